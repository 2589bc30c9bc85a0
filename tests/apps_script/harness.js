#!/usr/bin/env node
/*
 * Runs apps_script/Code.gs under Node.js with small stand-ins for the Apps Script services it uses
 * (GmailApp, UrlFetchApp, PropertiesService, CacheService, Utilities, Logger, LockService, ScriptApp).
 *
 *   node harness.js SCENARIO.json      (or the scenario on stdin)
 *
 * The scenario is the mailbox and the script's settings:
 *   {"call": "processWebhookTransfer",
 *    "properties": {"SIGNAL_SERVER_URL": "...", "PROCESS_API_TOKEN": "..."},
 *    "labels": ["A_TRANSFERER_WEBHOOK"],
 *    "threads": [{"id": "t1", "labels": ["A_TRANSFERER_WEBHOOK"],
 *                 "messages": [{"id": "m1", "from": "...", "subject": "...", "date": "ISO", "body": "<p>…",
 *                               "plainBody": "…", "unread": true,
 *                               "to": "...", "cc": "...", "replyTo": "...", "headers": {"Delivered-To": "..."},
 *                               "attachments": [{"name": "a.pdf", "size": 1, "contentType": "...", "inline": false}]}]}],
 *    "triggers": [],
 *    "cache": {}}
 * `labels` are the labels the mailbox has (GmailApp.createLabel adds one); `cache` is the script cache.
 * It prints the same scenario after the run (threads' labels as the script left them, labels, triggers,
 * cache) plus `requests` (every HTTP call: url, method, headers, body, code or error), `logs` (Logger
 * lines) and `lookups` (the message ids the script asked GmailApp.getMessageById for).
 *
 * UrlFetchApp.fetch is synchronous in Apps Script; Node has no synchronous HTTP client, so each call
 * runs this file again as a child process (`--fetch-once`) that performs one real request. Redirects
 * are never followed (Code.gs asks for that; an answer 3xx is returned as is).
 */
'use strict';

const fs = require('fs');
const path = require('path');
const vm = require('vm');
const crypto = require('crypto');
const { execFileSync } = require('child_process');

const CODE_GS = path.resolve(__dirname, '..', '..', 'apps_script', 'Code.gs');
const FETCH_TIMEOUT_MS = 30000;

if (process.argv[2] === '--fetch-once') {
  fetchOnce();
} else {
  main();
}

function fetchOnce() {
  // Plain http/https (not global fetch) so that any Node.js the CI machine installs will do.
  const request = JSON.parse(fs.readFileSync(0, 'utf8'));
  const target = new URL(request.url);
  const client = target.protocol === 'https:' ? require('https') : require('http');
  const body = request.body === undefined ? undefined : Buffer.from(request.body, 'utf8');
  const headers = { ...request.headers };
  if (body) {
    headers['Content-Length'] = String(body.length);
  }
  const done = (result) => process.stdout.write(JSON.stringify(result));
  const outgoing = client.request(
    target,
    { method: request.method.toUpperCase(), headers, timeout: FETCH_TIMEOUT_MS },
    (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () =>
        done({ code: response.statusCode, body: Buffer.concat(chunks).toString('utf8'), headers: response.headers })
      );
    }
  );
  outgoing.on('timeout', () => outgoing.destroy(new Error(`timed out after ${FETCH_TIMEOUT_MS} ms`)));
  outgoing.on('error', (error) => done({ error: `${error.message}${error.code ? ` (${error.code})` : ''}` }));
  outgoing.end(body);
}

function main() {
  const source = process.argv[2] ? fs.readFileSync(process.argv[2], 'utf8') : fs.readFileSync(0, 'utf8');
  const scenario = JSON.parse(source);
  const state = {
    ...scenario,
    threads: (scenario.threads || []).map((t) => ({ ...t, labels: [...(t.labels || [])] })),
    labels: [...(scenario.labels || [])],
    triggers: [...(scenario.triggers || [])],
    cache: { ...(scenario.cache || {}) },
    requests: [],
    logs: [],
    lookups: [],
  };
  const sandbox = standIns(state);
  vm.createContext(sandbox);
  vm.runInContext(fs.readFileSync(CODE_GS, 'utf8'), sandbox, { filename: 'Code.gs' });
  const call = scenario.call || 'processWebhookTransfer';
  if (typeof sandbox[call] !== 'function') {
    throw new Error(`Code.gs defines no function ${call}`);
  }
  try {
    sandbox[call]();
  } catch (error) {
    state.error = String(error && error.message ? error.message : error);
  }
  process.stdout.write(JSON.stringify(state));
}

function standIns(state) {
  const properties = { ...(state.properties || {}) };
  return {
    GmailApp: gmailApp(state),
    UrlFetchApp: { fetch: (url, params) => urlFetch(state, url, params || {}) },
    PropertiesService: {
      getScriptProperties: () => ({
        getProperty: (key) => (key in properties ? String(properties[key]) : null),
        setProperty: (key, value) => {
          properties[key] = String(value);
        },
      }),
    },
    // Entries never expire here: a run is far shorter than any expiry the script asks for.
    CacheService: {
      getScriptCache: () => ({
        get: (key) => (key in state.cache ? state.cache[key] : null),
        put: (key, value) => {
          state.cache[key] = String(value);
        },
      }),
    },
    Utilities: {
      Charset: { UTF_8: 'utf8', US_ASCII: 'ascii' },
      // Apps Script returns Java bytes: signed, -128..127.
      computeHmacSha256Signature: (value, key, charset) => {
        const encoding = charset || 'utf8';
        const digest = crypto.createHmac('sha256', Buffer.from(key, encoding)).update(Buffer.from(value, encoding)).digest();
        return Array.from(digest, (b) => (b > 127 ? b - 256 : b));
      },
      sleep: (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms),
    },
    Logger: { log: (format, ...args) => state.logs.push(logFormat(format, args)) },
    LockService: {
      getScriptLock: () => ({ tryLock: () => true, waitLock: () => undefined, releaseLock: () => undefined, hasLock: () => true }),
    },
    ScriptApp: scriptApp(state),
  };
}

function logFormat(format, args) {
  if (typeof format !== 'string') {
    return JSON.stringify(format);
  }
  let index = 0;
  return format.replace(/%s/g, () => (index < args.length ? String(args[index++]) : '%s'));
}

function gmailApp(state) {
  const label = (name) => ({
    getName: () => name,
    getThreads: (start, max) =>
      state.threads
        .filter((t) => t.labels.includes(name))
        .slice(start || 0, (start || 0) + (max === undefined ? 500 : max))
        .map((t) => thread(t)),
  });
  const message = (m) => ({
    getId: () => m.id,
    getFrom: () => m.from,
    getSubject: () => m.subject || '',
    getDate: () => new Date(m.date),
    getBody: () => m.body || '',
    getPlainBody: () => (m.plainBody !== undefined ? m.plainBody : (m.body || '').replace(/<[^>]+>/g, '')),
    getTo: () => m.to || '',
    getCc: () => m.cc || '',
    getReplyTo: () => m.replyTo || '',
    // Header names are case-insensitive; an absent header is '' (as in Apps Script).
    getHeader: (name) => {
      const key = Object.keys(m.headers || {}).find((k) => k.toLowerCase() === name.toLowerCase());
      return key === undefined ? '' : m.headers[key];
    },
    // Inline images count as attachments unless the caller says {includeInlineImages: false}.
    getAttachments: (options) =>
      (m.attachments || [])
        .filter((a) => !(a.inline && options && options.includeInlineImages === false))
        .map((a) => ({ getName: () => a.name, getSize: () => a.size, getContentType: () => a.contentType })),
    isUnread: () => m.unread !== false,
    markRead: () => {
      m.unread = false;
    },
    getThread: () => thread(state.threads.find((t) => t.messages.includes(m))),
  });
  const thread = (t) => ({
    getId: () => t.id,
    getMessages: () => t.messages.map(message),
    getLabels: () => t.labels.map(label),
    addLabel: (l) => {
      if (!t.labels.includes(l.getName())) t.labels.push(l.getName());
    },
    removeLabel: (l) => {
      t.labels = t.labels.filter((name) => name !== l.getName());
    },
  });
  return {
    getUserLabelByName: (name) => (state.labels.includes(name) ? label(name) : null),
    createLabel: (name) => {
      if (!state.labels.includes(name)) state.labels.push(name);
      return label(name);
    },
    // Apps Script throws for an id the mailbox does not have.
    getMessageById: (id) => {
      state.lookups.push(id);
      const found = state.threads.flatMap((t) => t.messages).find((m) => m.id === id);
      if (!found) throw new Error(`Invalid argument: ${id}`);
      return message(found);
    },
  };
}

function urlFetch(state, url, params) {
  const headers = { ...(params.headers || {}) };
  if (params.contentType) {
    headers['Content-Type'] = params.contentType;
  }
  const request = {
    url,
    method: params.method || 'get',
    headers,
    body: params.payload === undefined ? undefined : String(params.payload),
  };
  const record = { url, method: request.method, headers, body: request.body };
  state.requests.push(record);
  const output = execFileSync(process.execPath, [__filename, '--fetch-once'], {
    input: JSON.stringify(request),
    timeout: FETCH_TIMEOUT_MS + 5000,
  });
  const result = JSON.parse(output.toString('utf8'));
  if (result.error) {
    record.error = result.error;
    throw new Error(`Exception: Address unavailable: ${url} (${result.error})`);
  }
  record.code = result.code;
  record.response = result.body;
  if (!params.muteHttpExceptions && result.code >= 400) {
    throw new Error(`Exception: Request failed for ${url} returned code ${result.code}`);
  }
  return {
    getResponseCode: () => result.code,
    getContentText: () => result.body,
    getHeaders: () => result.headers,
  };
}

function scriptApp(state) {
  const builder = (handler) => ({
    timeBased: () => ({
      everyMinutes: (minutes) => ({
        create: () => {
          const trigger = { handler, everyMinutes: minutes };
          state.triggers.push(trigger);
          return trigger;
        },
      }),
    }),
  });
  return {
    getProjectTriggers: () =>
      state.triggers.map((trigger) => ({ getHandlerFunction: () => trigger.handler, _trigger: trigger })),
    deleteTrigger: (wrapped) => {
      state.triggers = state.triggers.filter((trigger) => trigger !== wrapped._trigger);
    },
    newTrigger: (handler) => builder(handler),
  };
}
