package main

import (
	"errors"
	"fmt"
)

// rawCodec sends and receives message bytes as they are: requests are encoded by hand below and
// responses are checked by their first fields, so no generated code is needed.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: %T is not *[]byte", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: %T is not *[]byte", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendString appends field `num` (wire type 2) holding s.
func appendString(b []byte, num int, s string) []byte {
	b = appendVarint(b, uint64(num<<3|2))
	b = appendVarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeGet is malt.v1.GetRequest{entity_id: id} (datasets empty: every features dataset).
func encodeGet(id string) []byte { return appendString(nil, 1, id) }

// encodeBatchGet is malt.v1.BatchGetRequest{entity_ids: ids}.
func encodeBatchGet(ids []string) []byte {
	var b []byte
	for _, id := range ids {
		b = appendString(b, 1, id)
	}
	return b
}

func readVarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * uint(i))
		if b[i] < 0x80 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errors.New("bad varint")
}

// lenFields returns the length-delimited fields numbered `num` at the top level of message b.
func lenFields(b []byte, num int) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		key, n, err := readVarint(b)
		if err != nil {
			return nil, err
		}
		b = b[n:]
		switch key & 7 {
		case 0:
			_, n, err = readVarint(b)
			if err != nil {
				return nil, err
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return nil, errors.New("truncated fixed64")
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return nil, errors.New("truncated fixed32")
			}
			b = b[4:]
		case 2:
			l, n, err := readVarint(b)
			if err != nil || uint64(len(b)-n) < l {
				return nil, errors.New("truncated field")
			}
			if int(key>>3) == num {
				out = append(out, b[n:n+int(l)])
			}
			b = b[n+int(l):]
		default:
			return nil, fmt.Errorf("wire type %d", key&7)
		}
	}
	return out, nil
}

// checkEntity: an EntityResult whose entity_id is id and which has at least one dataset.
func checkEntity(msg []byte, id string) error {
	ids, err := lenFields(msg, 1)
	if err != nil {
		return err
	}
	if len(ids) != 1 || string(ids[0]) != id {
		return fmt.Errorf("entity_id is not %q", id)
	}
	ds, err := lenFields(msg, 2)
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		return errors.New("no datasets in the result")
	}
	return nil
}

// checkBatch: a BatchGetResponse with one EntityResult per requested id, in order.
func checkBatch(msg []byte, ids []string) error {
	results, err := lenFields(msg, 1)
	if err != nil {
		return err
	}
	if len(results) != len(ids) {
		return fmt.Errorf("%d results for %d ids", len(results), len(ids))
	}
	for i, r := range results {
		if err := checkEntity(r, ids[i]); err != nil {
			return fmt.Errorf("result %d: %v", i, err)
		}
	}
	return nil
}
