/**
 * The admin stream's frames (docs/ARCHITECTURE.md "Admin stream"): JSON text frames, one request
 * or one answer each. A request names an operation of the admin contract
 * (shared/contract/admin-operations.ts) and gives its input as one object, exactly what the HTTP
 * route of that operation takes as path parameters, query and body merged; the operation's own
 * schema checks it, as on HTTP.
 *
 *   → {"id": 7, "op": "sendMessage", "input": {"room_id": "!…", "body": "hi"}}
 *   ← {"id": 7, "ok": true, "result": {"event_id": "$…"}}
 *   ← {"id": 7, "ok": false, "status": 403, "error": "not_a_member", "message": "…"}
 *
 * `id` is the client's (a string of 1–64 characters or a safe integer), echoed in the answer;
 * answers come as operations finish, not necessarily in request order. A frame that cannot be
 * read gets an answer with `"id": null`.
 *
 * A stream opened with the subprotocol `paracord.notifications` (`Sec-WebSocket-Protocol`) also carries the node's live notifications, the same
 * ones `GET /events` sends as Server-Sent Events (main/core/node-events.ts), one frame each and
 * without an id (the browser UI's live updates, issue #35 item 3):
 *
 *   ← {"notification": {"type": "room", "room_id": "!…", "event_id": "$…", "event_type": "m.message", "sender": "@…"}}
 */
import { z } from 'zod';
import { adminOperations, type AdminOperationName } from '../../../../shared/contract/admin-operations.ts';
import { errorAnswer } from '../../http/middleware/error-handler.ts';
import { formatZodError } from '../format-zod-error.ts';
import { isJsonObject } from '../../util/json-object.ts';

/** The largest frame taken (the HTTP admin API's body limit). */
export const STREAM_FRAME_LIMIT = 256 * 1024;

const frameId = z.union([z.string().min(1).max(64), z.number().int().refine(Number.isSafeInteger, 'must be a safe integer')]);
export type FrameId = z.output<typeof frameId>;

export const requestFrame = z.strictObject({
  id: frameId,
  op: z.string().min(1).max(64),
  input: z.record(z.string(), z.unknown()).optional(),
});

export type StreamAnswer =
  | { id: FrameId | null; ok: true; result: unknown }
  | ({ id: FrameId | null; ok: false; status: number; error: string; message: string } & Record<string, unknown>);

/** A request frame checked: its operation exists and its input passed that operation's schema. */
export interface StreamRequest {
  id: FrameId;
  op: AdminOperationName;
  input: unknown;
}

export type ParsedFrame = { ok: true; request: StreamRequest } | { ok: false; answer: StreamAnswer };

const refuse = (id: FrameId | null, status: number, error: string, message: string): ParsedFrame => ({ ok: false, answer: { id, ok: false, status, error, message } });

/**
 * Exactly what `requestFrame` accepts (or less: then the schema decides and explains), checked
 * without copying the frame: zod builds a new object of every level, and the operation's own
 * schema copies the input again (issue #17: a frame per message sent). A test holds the two to
 * the same answers.
 */
export function isWellFormedFrame(json: unknown): json is z.output<typeof requestFrame> {
  if (!isJsonObject(json)) return false;
  let fields = 0;
  for (const key in json) {
    if (!Object.hasOwn(json, key)) continue;
    if (key !== 'id' && key !== 'op' && key !== 'input') return false;
    fields++;
  }
  const { id, op, input } = json as { id?: unknown; op?: unknown; input?: unknown };
  const idOk = typeof id === 'string' ? id.length >= 1 && id.length <= 64 : Number.isSafeInteger(id);
  const opOk = typeof op === 'string' && op.length >= 1 && op.length <= 64;
  return idOk && opOk && fields === ('input' in json ? 3 : 2) && (input === undefined ? !('input' in json) : isJsonObject(input));
}

/** Reads one text frame: the request it makes, or the answer that refuses it. */
export function parseFrame(text: string): ParsedFrame {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return refuse(null, 400, 'malformed_frame', `frame is not valid JSON: ${(error as Error).message}`);
  }
  let data: z.output<typeof requestFrame>;
  if (isWellFormedFrame(json)) data = json;
  else {
    const frame = requestFrame.safeParse(json);
    if (!frame.success) {
      const id = frameId.safeParse((json as { id?: unknown } | null)?.id);
      return refuse(id.success ? id.data : null, 400, 'malformed_frame', `frame must be {"id", "op", "input"}: ${formatZodError(frame.error)}`);
    }
    data = frame.data;
  }
  const { id, op } = data;
  if (!Object.hasOwn(adminOperations, op)) return refuse(id, 404, 'unknown_operation', `no admin operation named ${JSON.stringify(op)}`);
  const name = op as AdminOperationName;
  const input = adminOperations[name].input.safeParse(data.input ?? {});
  if (!input.success) return refuse(id, 400, 'invalid_input', formatZodError(input.error));
  return { ok: true, request: { id, op: name, input: input.data } };
}

/**
 * A failed request's answer (without its id): the status, code and message HTTP would answer, and
 * a `Retry-After` as `retry_after` (seconds), since a frame has no headers.
 */
export function failureAnswer(error: unknown): { ok: false; status: number; error: string; message: string } & Record<string, unknown> {
  const { status, headers, body } = errorAnswer(error);
  const retryAfter = Number(headers['retry-after']);
  return { ...body, ...(Number.isFinite(retryAfter) && headers['retry-after'] !== undefined ? { retry_after: retryAfter } : {}), ok: false, status };
}
