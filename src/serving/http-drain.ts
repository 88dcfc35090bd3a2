/**
 * Closes the HTTP server for a graceful shutdown: it stops accepting connections at once, idle
 * keep-alive connections are closed, requests in flight finish (later requests on their
 * connections get 503 SHUTTING_DOWN), and whatever is still open after `graceMs` is cut.
 */
import type { FastifyInstance } from 'fastify';

export async function closeHttpDraining(app: FastifyInstance, graceMs: number): Promise<void> {
  const timer = setTimeout(() => app.server.closeAllConnections(), graceMs);
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
}
