/**
 * One accepted control connection: request lines in, replies and events out. Nothing a client does
 * may hurt the daemon, so every way a connection can go wrong ends only that connection:
 *
 * - requests run concurrently and are answered as they finish (ids match replies to requests);
 * - output is bounded: while more than PAUSE_INPUT_BYTES of replies wait for a slow reader, no
 *   more requests are read (backpressure), and a connection that still piles up more than
 *   MAX_QUEUED_BYTES (a subscriber that does not read its events) is dropped with a log line;
 * - a half-closed connection (the client sent its requests and shut its side) still gets its
 *   replies, then is closed. End of input also ends a subscription: a client that vanished and
 *   one that only shut its side look the same until a write fails, and events to nobody would
 *   pile up until then;
 * - socket errors (a client gone mid-reply: EPIPE, ECONNRESET) just end the connection.
 */
import type { Socket } from 'node:net';
import { encodeLine, LineReader, type Frame } from './framing.js';
import { ControlError, MAX_REQUEST_BYTES, type ControlTarget, type ErrorBody, type Event, type Reply, type RequestId } from './protocol.js';
import { parseRequest, RequestRejected, type ParsedRequest } from './requests.js';

/** Stop reading requests while this much output waits for the client. */
export const PAUSE_INPUT_BYTES = 1024 * 1024;
/** Drop a connection whose unread output grows past this (events to a subscriber that does not read). */
export const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
/** How long a closing connection may take to flush its last replies before it is cut. */
const CLOSE_GRACE_MS = 1000;

export class Connection {
  private readonly reader = new LineReader(MAX_REQUEST_BYTES);
  private inFlight = 0;
  private inputEnded = false;
  private unsubscribe: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly target: ControlTarget,
    private readonly log: (line: string) => void,
    /** Names the peer in log lines, e.g. "pid 42 (uid 0)". */
    private readonly peer: string,
    onClosed: () => void,
  ) {
    socket.on('data', (chunk: Buffer) => this.guarded(() => this.reader.feed(chunk).forEach((frame) => this.onFrame(frame))));
    socket.on('end', () =>
      this.guarded(() => {
        this.reader.end().forEach((frame) => this.onFrame(frame));
        this.inputEnded = true;
        this.stopEvents();
        this.finishIfDone();
      }),
    );
    socket.on('drain', () => {
      if (!this.closed) socket.resume();
    });
    // A client that vanished mid-reply; 'close' follows and cleans up.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.stopEvents();
      onClosed();
    });
  }

  /** Ends the connection (daemon shutdown): replies already queued still go out, briefly. */
  close(): void {
    this.stopEvents();
    if (this.closed) return;
    this.socket.end();
    // Not unref'd: the daemon's shutdown waits for this (at most the grace), not for the client.
    const timer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    this.socket.once('close', () => clearTimeout(timer));
  }

  private onFrame(frame: Frame): void {
    if (frame.kind === 'too-large') {
      this.sendError(null, new ControlError('too-large', `a request line of more than ${MAX_REQUEST_BYTES} bytes (${frame.bytes} so far) was dropped`, 'send smaller requests: one JSON object per line'));
      return;
    }
    if (frame.text.trim() === '') return;
    let request: ParsedRequest;
    try {
      request = parseRequest(frame.text);
    } catch (err) {
      if (!(err instanceof RequestRejected)) throw err;
      this.sendError(err.id, err.error);
      return;
    }
    if (request.op === 'subscribe') this.subscribe(request.id);
    else void this.run(request);
  }

  private async run(request: ParsedRequest): Promise<void> {
    this.inFlight++;
    try {
      const result = await request.run(this.target);
      this.send({ id: request.id, ok: true, result });
    } catch (err) {
      if (!(err instanceof ControlError)) this.log(`persistd: control: ${request.op} failed: ${(err as Error)?.message ?? String(err)}`);
      this.sendError(request.id, err);
    } finally {
      this.inFlight--;
      this.finishIfDone();
    }
  }

  /**
   * Replies ok, then forwards events. Events the target emits while subscribing (before the ok
   * reply is out) are held, so the reply always comes first. A second subscribe is just ok.
   */
  private subscribe(id: RequestId): void {
    if (this.unsubscribe) {
      this.send({ id, ok: true, result: { subscribed: true } });
      return;
    }
    let early: Event[] | null = [];
    try {
      this.unsubscribe = this.target.subscribe((event) => (early ? early.push(event) : this.sendEvent(event)));
    } catch (err) {
      this.sendError(id, err);
      return;
    }
    this.send({ id, ok: true, result: { subscribed: true } });
    const held = early;
    early = null;
    held.forEach((event) => this.sendEvent(event));
    if (this.closed) this.stopEvents();
  }

  private sendEvent(event: Event): void {
    if (this.closed) return;
    if (this.socket.writableLength > MAX_QUEUED_BYTES) {
      this.log(`persistd: control: dropped subscriber ${this.peer}: it left more than ${MAX_QUEUED_BYTES} bytes of events unread`);
      this.stopEvents();
      this.socket.destroy();
      return;
    }
    this.send(event);
  }

  private sendError(id: RequestId | null, err: unknown): void {
    const error: ErrorBody =
      err instanceof ControlError
        ? { code: err.code, message: err.message, ...(err.hint === undefined ? {} : { hint: err.hint }) }
        : { code: 'failed', message: err instanceof Error ? err.message : String(err) };
    this.send({ id, ok: false, error });
  }

  private send(message: Reply | Event): void {
    if (this.closed || !this.socket.writable) return;
    let line: string;
    try {
      line = encodeLine(message);
    } catch (err) {
      // A result JSON cannot carry (a BigInt, a cycle): a bug in the target, answered as failed.
      if (!('id' in message)) return;
      line = encodeLine({ id: message.id, ok: false, error: { code: 'failed', message: `the reply could not be encoded: ${(err as Error).message}` } });
    }
    // One large reply always goes out; a client that leaves many unread (it pipelined requests
    // faster than it reads) is dropped.
    if (this.socket.writableLength > MAX_QUEUED_BYTES * 2) {
      this.log(`persistd: control: dropped ${this.peer}: it left more than ${MAX_QUEUED_BYTES * 2} bytes of replies unread`);
      this.socket.destroy();
      return;
    }
    this.socket.write(line);
    if (this.socket.writableLength > PAUSE_INPUT_BYTES) this.socket.pause(); // 'drain' resumes reading
  }

  private finishIfDone(): void {
    if (this.inputEnded && this.inFlight === 0 && !this.unsubscribe && !this.closed) this.socket.end();
  }

  private stopEvents(): void {
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    unsubscribe?.();
  }

  /** A bug in the handling of one connection must not take the daemon down: log it, drop the peer. */
  private guarded(handle: () => void): void {
    try {
      handle();
    } catch (err) {
      this.log(`persistd: bug in the control connection of ${this.peer}: ${(err as Error)?.stack ?? String(err)}`);
      this.socket.destroy();
    }
  }
}
