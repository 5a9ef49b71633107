import { createServer, connect, type Server, type Socket } from 'node:net';
import { FaultProxy, FaultProxyError } from './support/fault-proxy';

/** An upstream that answers every chunk with the same bytes, and notes what it received. */
async function echoServer(): Promise<{
  server: Server;
  port: number;
  sockets: Set<Socket>;
  received: () => string;
}> {
  const sockets = new Set<Socket>();
  let got = '';
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.on('data', (b) => {
      got += b.toString();
      s.write(b);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    server,
    port: typeof address === 'object' && address ? address.port : 0,
    sockets,
    received: () => got,
  };
}

/** A client of the proxy that collects what it receives and whether it was reset. */
async function dial(
  port: number,
): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const socket = connect({ host: '127.0.0.1', port });
  let data = '';
  socket.on('data', (b: Buffer) => (data += b.toString()));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => data, closed };
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('fault proxy - the link between a replica and NATS, as the nemesis breaks it', () => {
  let upstream: Awaited<ReturnType<typeof echoServer>>;
  let proxy: FaultProxy;
  const clients: Socket[] = [];

  beforeEach(async () => {
    upstream = await echoServer();
    proxy = new FaultProxy(upstream.port);
    await proxy.listen();
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await proxy.close();
    for (const s of upstream.sockets) s.destroy();
    await new Promise<void>((resolve) => upstream.server.close(() => resolve()));
  });

  const open = async () => {
    const c = await dial(proxy.port);
    clients.push(c.socket);
    return c;
  };

  it('forwards bytes both ways while the link passes', async () => {
    const c = await open();
    c.socket.write('hello');
    await until('the echo', () => c.received() === 'hello');
    expect(proxy.stats()).toMatchObject({ accepted: 1, open: 1, forwardedBytes: 10, droppedBytes: 0 });
  });

  it('holds delayed chunks and keeps their order when the delay is lowered', async () => {
    const c = await open();
    proxy.delay(600);
    c.socket.write('a');
    await new Promise((r) => setTimeout(r, 50));
    expect(c.received()).toBe(''); // held: 600 ms each way
    proxy.delay(0);
    c.socket.write('b');
    await until('both chunks', () => c.received().length === 2);
    expect(c.received()).toBe('ab');
  });

  it('drop loses bytes with the connection open; heal resets that connection and a new one passes', async () => {
    const c = await open();
    proxy.drop();
    c.socket.write('lost');
    await until('the bytes counted lost', () => proxy.stats().droppedBytes === 4);
    expect(c.received()).toBe('');
    expect(c.socket.destroyed).toBe(false);
    proxy.heal();
    await c.closed; // its stream has a gap: reset
    const d = await open();
    d.socket.write('back');
    await until('the echo after heal', () => d.received() === 'back');
  });

  it('one-way up: the client is not heard, hears the upstream; heal resets the connection', async () => {
    const c = await open();
    await until('the upstream side', () => upstream.sockets.size === 1);
    proxy.dropOneWay('up');
    expect(proxy.mode).toBe('drop-up');
    c.socket.write('mute');
    await until('the bytes counted lost', () => proxy.stats().droppedBytes === 4);
    for (const s of upstream.sockets) s.write('still');
    await until('the upstream heard by the client', () => c.received() === 'still');
    expect(upstream.received()).toBe('');
    proxy.heal();
    await c.closed;
  });

  it('one-way down: the client is heard and hears nothing', async () => {
    const c = await open();
    proxy.dropOneWay('down');
    c.socket.write('deaf');
    await until('the upstream hearing the client', () => upstream.received() === 'deaf');
    await until('the echo counted lost', () => proxy.stats().droppedBytes === 4);
    expect(c.received()).toBe('');
    expect(c.socket.destroyed).toBe(false);
    proxy.heal();
    await c.closed;
    const d = await open();
    d.socket.write('back');
    await until('the echo after heal', () => d.received() === 'back');
  });

  it('cut resets open connections and every new one until heal', async () => {
    const c = await open();
    proxy.cut();
    await c.closed;
    const refused = connect({ host: '127.0.0.1', port: proxy.port });
    refused.on('data', () => {
      throw new Error('a cut link passed bytes');
    });
    refused.on('error', () => undefined);
    await new Promise<void>((resolve) => refused.once('close', () => resolve())); // reset, connected or not
    proxy.heal();
    const d = await open();
    d.socket.write('x');
    await until('the echo after heal', () => d.received() === 'x');
    expect(proxy.stats().reset).toBeGreaterThanOrEqual(2);
  });

  it('resets the client when the upstream refuses (a nats-server that is down)', async () => {
    const dead = new FaultProxy(upstream.port);
    await new Promise<void>((resolve) => upstream.server.close(() => resolve()));
    for (const s of upstream.sockets) s.destroy();
    await dead.listen();
    try {
      const c = await dial(dead.port);
      await c.closed;
      expect(dead.stats().open).toBe(0);
    } finally {
      await dead.close();
      upstream.server = createServer(); // afterEach closes something
      await new Promise<void>((resolve) => upstream.server.listen(0, '127.0.0.1', resolve));
    }
  });

  it('a FIN from the client with the upstream reset right behind it leaves no socket open', async () => {
    // Both reach the proxy in one poll: it resets the pair while it half-closes the client side.
    // A reset of a half-closed socket fails and leaks its handle, which keeps the process alive.
    const tcpHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const before = tcpHandles();
    for (let i = 0; i < 5; i++) {
      const c = await open();
      await until('the upstream side', () => upstream.sockets.size === 1);
      const [side] = [...upstream.sockets];
      c.socket.once('finish', () => side!.resetAndDestroy()); // our FIN is out: the RST follows it
      c.socket.end();
      await c.closed;
      await until('the upstream side closed', () => upstream.sockets.size === 0);
    }
    await until('every socket closed', () => tcpHandles() === before);
    expect(proxy.stats()).toMatchObject({ accepted: 5, open: 0 });
  });

  it('refuses a bad port or delay with FaultProxyError', () => {
    expect(() => new FaultProxy(0)).toThrow(FaultProxyError);
    expect(() => new FaultProxy(70_000)).toThrow(/upstreamPort \(70000\)/);
    expect(() => proxy.delay(-1)).toThrow(FaultProxyError);
    expect(new FaultProxyError('x').name).toBe('FaultProxyError');
  });
});
