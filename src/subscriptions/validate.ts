/**
 * Input rules for a new subscription, checked before Postgres sees it so the user gets every problem at
 * once in plain words (the table's CHECK constraints are the last line, not the message).
 */
import { ConnectorError, ErrorCode } from '../errors.js';
import type { NewSubscription, SubscriptionChange } from './types.js';

const MAX_ID = 256;
const MAX_EVENT = 256;
const MAX_TARGET = 2048;
const MIN_SECRET = 16;
const MAX_SECRET = 512;

const CONTROL = /[\u0000-\u001f\u007f]/;
/** Visible ASCII: the event name is sent in the X-Tiledesk-Event header. */
const EVENT_CHARS = /^[\x21-\x7e]+$/;

function checkText(name: string, value: unknown, max: number, problems: string[]): value is string {
  if (typeof value !== 'string' || value.trim() === '') {
    problems.push(`${name} is required`);
    return false;
  }
  if (value.length > max) problems.push(`${name} is longer than ${max} characters`);
  if (CONTROL.test(value)) problems.push(`${name} contains control characters`);
  return true;
}

function checkEvent(event: unknown, problems: string[]): void {
  if (!checkText('event', event, MAX_EVENT, problems)) return;
  if (event.includes('*')) {
    problems.push(
      `event ${quote(event)} has a wildcard: names match exactly (e.g. request.create), as in Tiledesk`,
    );
  } else if (!EVENT_CHARS.test(event)) {
    problems.push(`event ${quote(event)} must be printable ASCII without spaces (e.g. request.create)`);
  }
}

function checkTarget(target: unknown, problems: string[]): void {
  if (!checkText('target', target, MAX_TARGET, problems)) return;
  let url: URL | undefined;
  try {
    url = new URL(target);
  } catch {
    // reported below
  }
  // Credentials in a target would be shown by `list`, in dead-letter headers and wherever the URL goes;
  // receivers authenticate deliveries by signature instead. The message never repeats them.
  const shown = url === undefined ? quote(target) : quote(withoutCredentials(url, target));
  if (!/^https?:\/\//.test(target)) {
    problems.push(`target ${shown} must start with http:// or https://`);
    return;
  }
  if (url === undefined) {
    problems.push(`target ${shown} is not a valid URL`);
    return;
  }
  // As the table's CHECK: a host right after "//" (WHATWG would read "http:///x" as host x).
  if (url.hostname === '' || /^https?:\/\/[/\\]/.test(target)) problems.push(`target ${shown} has no host`);
  if (url.username !== '' || url.password !== '') {
    problems.push(
      `target ${shown} must not contain credentials (user:password@); receivers verify the signature instead`,
    );
  }
  if (/\s/.test(target)) problems.push(`target ${shown} contains white space`);
}

/** A value in a message: JSON-quoted, so CR/LF or other control characters cannot forge output lines. */
function quote(value: string): string {
  return JSON.stringify(value);
}

function withoutCredentials(url: URL, raw: string): string {
  if (url.username === '' && url.password === '') return raw;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

function checkSecret(secret: unknown, problems: string[]): void {
  if (secret === undefined) return;
  if (typeof secret !== 'string' || secret.length < MIN_SECRET || secret.length > MAX_SECRET) {
    problems.push(`secret must be ${MIN_SECRET} to ${MAX_SECRET} characters`);
    return;
  }
  if (CONTROL.test(secret) || /\s/.test(secret)) {
    problems.push('secret contains white space or control characters');
  }
  if (secret.startsWith('whsec_') && !/^[A-Za-z0-9+/]+={0,2}$/.test(secret.slice('whsec_'.length))) {
    problems.push('secret starts with whsec_ but the rest is not base64 (Standard Webhooks decodes it)');
  }
}

/** Every problem with `input`, in words a CLI user can act on; empty when valid. */
export function subscriptionProblems(input: NewSubscription): string[] {
  const problems: string[] = [];
  checkText('project', input.idProject, MAX_ID, problems);
  checkEvent(input.event, problems);
  checkTarget(input.target, problems);
  checkText('created-by', input.createdBy, MAX_ID, problems);
  if (input.global !== undefined && typeof input.global !== 'boolean') {
    problems.push('global must be true or false');
  }
  checkSecret(input.secret, problems);
  return problems;
}

/** Every problem with the fields a change names (event, target); empty when valid or none is named. */
export function subscriptionChangeProblems(change: SubscriptionChange): string[] {
  const problems: string[] = [];
  if (change.event !== undefined) checkEvent(change.event, problems);
  if (change.target !== undefined) checkTarget(change.target, problems);
  return problems;
}

/** Throws SUBSCRIPTION_INVALID listing every problem. */
export function assertValidSubscription(input: NewSubscription): void {
  const problems = subscriptionProblems(input);
  if (problems.length > 0) {
    throw new ConnectorError(ErrorCode.SUBSCRIPTION_INVALID, `invalid subscription: ${problems.join('; ')}`, {
      problems,
    });
  }
}
