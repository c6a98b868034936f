/**
 * Broker faults for one kafkajs client in integration tests, without touching the shared broker: a socket
 * factory (kafkajs's `socketFactory` option) that can lose the answer to a produce request the broker has
 * already appended (the "timeout or closed connection after the write" case), or cut the client off the
 * broker: connections refused, or accepted by a listener that never answers (a hung broker).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { ISocketFactory } from 'kafkajs';

const PRODUCE_API_KEY = 0;

export type BrokerPath = 'ok' | 'refused' | 'hung';

export interface FaultySockets {
  readonly socketFactory: ISocketFactory;
  /** The next Produce request reaches the broker, then its connection is reset before the answer arrives. */
  loseNextProduceAnswer(): void;
  /** How many answers were lost so far. */
  readonly lostAnswers: number;
  /** Resets every open connection and sends new ones to `path` ('ok': the real broker again). */
  setPath(path: BrokerPath): Promise<void>;
  /** Bytes sent to the hung listener (requests left unanswered). */
  readonly bytesToHungBroker: number;
  close(): Promise<void>;
}

const reset = (why: string): Error =>
  Object.assign(new Error(`read ECONNRESET (${why})`), { code: 'ECONNRESET' });

export async function faultySockets(): Promise<FaultySockets> {
  let armed = false;
  let lostAnswers = 0;
  let path: BrokerPath = 'ok';
  const open = new Set<Socket>();
  const hung = await startSilentListener();
  const refusedPort = await closedPort();

  const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    const to =
      path === 'ok' ? { host, port } : { host: '127.0.0.1', port: path === 'hung' ? hung.port : refusedPort };
    const socket = connect(to, onConnect);
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    let doomed: number | undefined; // correlation id of the produce request whose answer is lost
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = ((chunk: unknown, ...rest: unknown[]) => {
      // kafkajs writes each request as one buffer: size, api key, api version, correlation id.
      if (armed && Buffer.isBuffer(chunk) && chunk.length >= 12 && chunk.readInt16BE(4) === PRODUCE_API_KEY) {
        armed = false;
        doomed = chunk.readInt32BE(8);
      }
      return write(chunk, ...rest);
    }) as Socket['write'];
    let pending = Buffer.alloc(0);
    const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event !== 'data' || doomed === undefined) return emit(event, ...args);
      pending = Buffer.concat([pending, args[0] as Buffer]);
      // Answers: size, correlation id. Pass whole frames on until the doomed one, then reset the line.
      while (pending.length >= 8 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = pending.subarray(0, 4 + pending.readInt32BE(0));
        pending = pending.subarray(frame.length);
        if (frame.readInt32BE(4) === doomed) {
          doomed = undefined;
          lostAnswers++;
          // As a reset connection: kafkajs fails the request (it does not listen for 'close').
          socket.destroy(reset('answer lost by the test'));
          return true;
        }
        emit('data', frame);
      }
      return true;
    }) as Socket['emit'];
    return socket;
  };

  return {
    socketFactory,
    loseNextProduceAnswer: () => {
      armed = true;
    },
    get lostAnswers() {
      return lostAnswers;
    },
    get bytesToHungBroker() {
      return hung.bytesReceived;
    },
    async setPath(next) {
      path = next;
      for (const s of open) s.destroy(reset('broker path cut by the test'));
    },
    async close() {
      for (const s of open) s.destroy();
      await hung.close();
    },
  };
}

/** A port on 127.0.0.1 that nothing listens on (connections are refused). */
async function closedPort(): Promise<number> {
  const l = await startSilentListener();
  await l.close();
  return l.port;
}

/** A TCP listener on 127.0.0.1 that accepts connections and never sends a byte (a hung broker). */
export async function startSilentListener(): Promise<{
  port: number;
  /** Bytes the clients sent (requests left unanswered). */
  readonly bytesReceived: number;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let bytesReceived = 0;
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('data', (chunk: Buffer) => (bytesReceived += chunk.length));
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    get bytesReceived() {
      return bytesReceived;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
