/** The scopes an API key can hold, and which scope each gRPC method needs. */
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * gRPC methods of malt.v1.Serving → the scope they need. A method missing here needs `read`
 * (the least privilege that still protects data); update calls need `write`.
 */
export const GRPC_METHOD_SCOPES: Readonly<Record<string, Scope>> = {
  Get: 'read',
  BatchGet: 'read',
  GetSegments: 'read',
  Push: 'write',
};

export function grpcMethodScope(method: string): Scope {
  return GRPC_METHOD_SCOPES[method] ?? 'read';
}
