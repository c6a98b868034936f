/**
 * `webhook-connector demo-receiver`: a webhook receiver for the demo. It verifies what a real receiver
 * should verify — X-Hub-Signature-256 (constant-time), the Standard Webhooks signature with a 5-minute
 * timestamp tolerance, and the JWT in the body — and prints one line per delivery.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { ConnectorError, ErrorCode } from '../../errors.js';
import { parseFlags } from '../../flags.js';
import { signStandardWebhook, standardWebhooksKey } from '../../delivery/signing.js';

export const DEMO_RECEIVER_USAGE = `usage: webhook-connector demo-receiver --secret S [--port 4000] [--host 127.0.0.1] [--status 200]

  --secret  the subscription secret (printed once by 'subscriptions add')
  --status  HTTP status to answer (e.g. 500 to watch retries and dead letters)`;

const TOLERANCE_SEC = 300;

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface Verification {
  readonly hub256: boolean;
  readonly standard: boolean;
  readonly jwt: boolean;
}

/** Verifies the three signatures of one delivery. */
export function verifyDelivery(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  nowSec: number,
): Verification {
  const h = (n: string): string => String(headers[n] ?? '');
  const hub256 = safeEqual(
    h('x-hub-signature-256'),
    `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
  );
  const ts = Number(h('webhook-timestamp'));
  const expected = signStandardWebhook(standardWebhooksKey(secret), h('webhook-id'), ts, body);
  const standard =
    Math.abs(nowSec - ts) <= TOLERANCE_SEC &&
    h('webhook-signature')
      .split(' ')
      .some((s) => safeEqual(s, expected));
  let jwt = false;
  try {
    const token = String((JSON.parse(body) as { token?: unknown }).token ?? '');
    const [head, claims, sig] = token.split('.');
    jwt =
      sig !== undefined &&
      safeEqual(sig, createHmac('sha256', secret).update(`${head}.${claims}`).digest('base64url'));
  } catch {
    jwt = false;
  }
  return { hub256, standard, jwt };
}

export async function runDemoReceiver(
  argv: readonly string[],
  d: { out: (line: string) => void; untilStopped: Promise<void> },
): Promise<number> {
  const f = parseFlags(
    argv,
    { string: ['port', 'host', 'secret', 'status'], boolean: ['help'] },
    DEMO_RECEIVER_USAGE,
  );
  if (f.help) {
    d.out(DEMO_RECEIVER_USAGE);
    return 0;
  }
  if (!f.secret) throw new ConnectorError(ErrorCode.USAGE, `--secret is required\n\n${DEMO_RECEIVER_USAGE}`);
  const secret = f.secret;
  const status = Number(f.status ?? '200');
  const port = Number(f.port ?? '4000');
  const host = f.host ?? '127.0.0.1';
  let count = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const v = verifyDelivery(secret, req.headers, body, Math.floor(Date.now() / 1000));
      const ok = v.hub256 && v.standard && v.jwt;
      count++;
      let project = '';
      try {
        project = String((JSON.parse(body) as { hook?: { id_project?: string } }).hook?.id_project ?? '');
      } catch {
        project = '?';
      }
      d.out(
        `${ok ? 'VERIFIED' : 'REJECTED'} #${count} ${String(req.headers['x-tiledesk-event'])} project=${project} ` +
          `webhook-id=${String(req.headers['webhook-id'])} attempt=${String(req.headers['x-webhook-attempt'])} ` +
          `hub-sha256=${v.hub256 ? 'ok' : 'BAD'} standard-webhooks=${v.standard ? 'ok' : 'BAD'} jwt=${v.jwt ? 'ok' : 'BAD'} -> ${ok ? status : 401}`,
      );
      res.writeHead(ok ? status : 401).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  d.out(`demo receiver listening on http://${host}:${port}/ (answering ${status})`);
  await d.untilStopped;
  server.closeAllConnections();
  server.close();
  return 0;
}
