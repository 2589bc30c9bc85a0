/**
 * Signal Server — Gmail side (Google Apps Script).
 *
 * Every run takes the threads carrying the label (A_TRANSFERER_WEBHOOK by default), POSTs their unread
 * messages to Signal Server's batch ingress (…/api/ingress/gmail/batch: up to 50 messages a request,
 * each request body within MAX_REQUEST_BYTES), and removes the label from a thread only when every
 * unread message of it was answered HTTP 200 (processed, already_processed, skipped_…, deferred: all
 * mean "Signal Server has it"). Any other answer — 409 (ingress off, sending paused, outside the
 * window), 413, 429, 5xx — or a network error keeps the label, so the next run sends the thread again;
 * messages already accepted then answer already_processed and are not delivered twice.
 *
 * Each message goes with its From, subject, date, HTML body, snippet and Gmail id, and, when Gmail has them,
 * its To, Cc, Reply-To and Delivered-To, the headers of FORWARDED_HEADERS and its attachments' name, size
 * and type (never their content). A value over the service's limits is left out rather than refused.
 *
 * Messages are left unread, as the legacy script did.
 *
 * After pushing, every run asks the service (GET …/api/ingress/gmail/failures?since=…) which messages it
 * pushed in the last FAILURE_LOOKBACK_DAYS days ended in a delivery that failed for good or was cancelled,
 * and puts FAILURE_LABEL on their threads; when a replay later delivers them, the label comes off. That
 * part never stops the push: an error there is logged, and the next run asks again.
 *
 * Script properties (Project Settings → Script properties):
 *   SIGNAL_SERVER_URL    required  https://signal.example.org (the ingress path is added) or the full
 *                                  …/api/ingress/gmail URL
 *   PROCESS_API_TOKEN    required  the service's ingress token
 *   INGRESS_HMAC_SECRET  optional  when the service has INGRESS_HMAC_SECRET set: sign every request
 *   GMAIL_LABEL          optional  label to process (default A_TRANSFERER_WEBHOOK)
 *   THREADS_PER_RUN      optional  labelled threads handled per run (default 20, at most 100)
 *   MAX_REQUEST_BYTES    optional  largest request body sent (default 10485760, the service's default
 *                                  INGRESS_MAX_BYTES); a 413 naming a smaller limit lowers it for the run
 *   TRIGGER_MINUTES      optional  installTrigger() interval: 1, 5, 10, 15 or 30 (default 5)
 *   FAILURE_LABEL        optional  label put on threads whose delivery failed (default SIGNAL_ECHEC;
 *                                  created when missing)
 *   FAILURE_LOOKBACK_DAYS optional days of pushes checked for failures (default 7, the service's maximum)
 *
 * Entry point: processWebhookTransfer(). Run installTrigger() once to call it every few minutes.
 */

var INGRESS_PATH = '/api/ingress/gmail';
var BATCH_PATH = '/batch';
var FAILURES_PATH = '/failures';
var DEFAULT_FAILURE_LABEL = 'SIGNAL_ECHEC';
var DEFAULT_FAILURE_LOOKBACK_DAYS = 7;
var DAY_MS = 24 * 60 * 60 * 1000;
// What the last runs labelled, kept 6 hours (the cache's maximum): after that every failure is labelled again.
var FAILURE_STATE_KEY = 'SIGNAL_FAILURE_STATE';
var FAILURE_STATE_SECONDS = 6 * 60 * 60;
var MAX_BATCH_ITEMS = 50;
var DEFAULT_MAX_REQUEST_BYTES = 10 * 1024 * 1024;
// `{"emails":[` and `]}` around the comma-separated items.
var BATCH_ENVELOPE_BYTES = 13;
var DEFAULT_LABEL = 'A_TRANSFERER_WEBHOOK';
var DEFAULT_THREADS_PER_RUN = 20;
var MAX_THREADS_PER_RUN = 100;
var SNIPPET_LENGTH = 200;
// What the service keeps besides From (core/headers.py), and its limits (ingress/api/serializers.py).
var FORWARDED_HEADERS = [
  'Message-ID', 'In-Reply-To', 'References', 'Return-Path', 'List-Id', 'List-Unsubscribe', 'X-Original-To',
  'X-Forwarded-To', 'Auto-Submitted', 'Precedence', 'X-Mailer',
];
var ADDRESS_LIST_MAX_CHARS = 20000;
var HEADER_VALUE_MAX_CHARS = 10000;
var MAX_ATTACHMENTS = 100;
var ATTACHMENT_NAME_MAX_CHARS = 1000;
var ATTACHMENT_TYPE_MAX_CHARS = 255;
// Apps Script stops a run after 6 minutes; stop taking new threads well before.
var RUN_BUDGET_MS = 4.5 * 60 * 1000;

function processWebhookTransfer() {
  var config = signalConfig_();
  if (!config) {
    return;
  }
  var lock = LockService.getScriptLock();
  if (!lock.tryLock(1000)) {
    Logger.log('Another run is still in progress; skipping this one.');
    return;
  }
  try {
    transferLabelledThreads_(config);
    failureLabelsSync_(config);
  } finally {
    lock.releaseLock();
  }
}

function installTrigger() {
  var minutes = parseInt(PropertiesService.getScriptProperties().getProperty('TRIGGER_MINUTES') || '5', 10);
  if ([1, 5, 10, 15, 30].indexOf(minutes) < 0) {
    throw new Error('TRIGGER_MINUTES must be 1, 5, 10, 15 or 30, not ' + minutes);
  }
  ScriptApp.getProjectTriggers().forEach(function (trigger) {
    if (trigger.getHandlerFunction() === 'processWebhookTransfer') {
      ScriptApp.deleteTrigger(trigger);
    }
  });
  ScriptApp.newTrigger('processWebhookTransfer').timeBased().everyMinutes(minutes).create();
  Logger.log('processWebhookTransfer will run every %s minute(s).', minutes);
}

function signalConfig_() {
  var props = PropertiesService.getScriptProperties();
  var url = (props.getProperty('SIGNAL_SERVER_URL') || '').trim();
  var token = (props.getProperty('PROCESS_API_TOKEN') || '').trim();
  if (!url || !token) {
    Logger.log('Set the SIGNAL_SERVER_URL and PROCESS_API_TOKEN script properties first.');
    return null;
  }
  url = url.replace(/\/+$/, '');
  if (url.slice(-INGRESS_PATH.length) !== INGRESS_PATH) {
    url += INGRESS_PATH;
  }
  var threads = parseInt(props.getProperty('THREADS_PER_RUN') || String(DEFAULT_THREADS_PER_RUN), 10);
  if (!(threads >= 1)) {
    threads = DEFAULT_THREADS_PER_RUN;
  }
  var maxBytes = parseInt(props.getProperty('MAX_REQUEST_BYTES') || String(DEFAULT_MAX_REQUEST_BYTES), 10);
  var lookbackDays = parseFloat(props.getProperty('FAILURE_LOOKBACK_DAYS') || String(DEFAULT_FAILURE_LOOKBACK_DAYS));
  return {
    url: url,
    batchUrl: url + BATCH_PATH,
    failuresUrl: url + FAILURES_PATH,
    failureLabelName: (props.getProperty('FAILURE_LABEL') || DEFAULT_FAILURE_LABEL).trim(),
    failureLookbackDays: lookbackDays > 0 ? lookbackDays : DEFAULT_FAILURE_LOOKBACK_DAYS,
    maxRequestBytes: maxBytes > BATCH_ENVELOPE_BYTES ? maxBytes : DEFAULT_MAX_REQUEST_BYTES,
    token: token,
    hmacSecret: props.getProperty('INGRESS_HMAC_SECRET') || '',
    labelName: (props.getProperty('GMAIL_LABEL') || DEFAULT_LABEL).trim(),
    threadsPerRun: Math.min(threads, MAX_THREADS_PER_RUN),
  };
}

function transferLabelledThreads_(config) {
  var label = GmailApp.getUserLabelByName(config.labelName);
  if (!label) {
    Logger.log('Gmail label "%s" not found; nothing to do.', config.labelName);
    return;
  }
  var threads = label.getThreads(0, config.threadsPerRun);
  var unread = threads.map(unreadMessages_);
  var items = [];
  unread.forEach(function (messages) {
    items = items.concat(messages.map(pushItem_));
  });
  var codes = itemsPush_(items, config);
  var done = 0;
  for (var i = 0; i < threads.length; i++) {
    // A thread goes once every unread message of it was answered 200; any other answer keeps it.
    var handled = unread[i].every(function (message) {
      return codes[message.getId()] === 200;
    });
    if (handled) {
      threads[i].removeLabel(label);
      done++;
    }
  }
  Logger.log('Run finished: %s thread(s) handled and unlabelled, %s kept for the next run.', done, threads.length - done);
}

function unreadMessages_(thread) {
  return thread.getMessages().filter(function (message) {
    return message.isUnread();
  });
}

function pushItem_(message) {
  var item = {
    sender: message.getFrom(),
    subject: message.getSubject(),
    date: message.getDate().toISOString(),
    body: message.getBody(),
    snippet: (message.getPlainBody() || '').substring(0, SNIPPET_LENGTH),
    message_id: message.getId(),
  };
  recipientsAdd_(item, message);
  headersAdd_(item, message);
  attachmentsAdd_(item, message);
  var json = JSON.stringify(item);
  return { id: message.getId(), json: json, bytes: utf8Length_(json) };
}

/** To, Cc, Reply-To and Delivered-To as Gmail gives them (`Name <a@b>, …`); empty or oversized ones left out. */
function recipientsAdd_(item, message) {
  var values = {
    to: message.getTo(),
    cc: message.getCc(),
    reply_to: message.getReplyTo(),
    delivered_to: message.getHeader('Delivered-To'),
  };
  Object.keys(values).forEach(function (name) {
    var value = values[name] || '';
    if (value && value.length <= ADDRESS_LIST_MAX_CHARS) {
      item[name] = value;
    }
  });
}

function headersAdd_(item, message) {
  var headers = {};
  FORWARDED_HEADERS.forEach(function (name) {
    var value = message.getHeader(name) || '';
    if (value && value.length <= HEADER_VALUE_MAX_CHARS) {
      headers[name] = value;
    }
  });
  if (Object.keys(headers).length) {
    item.headers = headers;
  }
}

/** Name, size and content type of the real attachments (not inline images); never their content. */
function attachmentsAdd_(item, message) {
  var attachments = message.getAttachments({ includeInlineImages: false }).slice(0, MAX_ATTACHMENTS);
  if (!attachments.length) {
    return;
  }
  item.attachments = attachments.map(function (attachment) {
    return {
      name: String(attachment.getName() || '').substring(0, ATTACHMENT_NAME_MAX_CHARS),
      size: attachment.getSize(),
      content_type: String(attachment.getContentType() || '').substring(0, ATTACHMENT_TYPE_MAX_CHARS),
    };
  });
}

/**
 * Sends the items in batches of at most 50 and at most maxRequestBytes; returns each message's HTTP
 * code (0 when not sent). A 413 naming a smaller limit re-splits that batch; a 401 stops the run.
 */
function itemsPush_(items, config) {
  var codes = {};
  var started = Date.now();
  var queue = batchesPlan_(items, config.maxRequestBytes);
  while (queue.length) {
    if (Date.now() - started > RUN_BUDGET_MS) {
      Logger.log('Time budget used; %s batch(es) left for the next run.', queue.length);
      break;
    }
    var batch = queue.shift();
    var answer = batchPush_(batch, config);
    if (answer.code === 413 && batch.length > 1 && answer.maxBytes > 0 && answer.maxBytes < config.maxRequestBytes) {
      config.maxRequestBytes = answer.maxBytes;
      queue = batchesPlan_(batch, answer.maxBytes).concat(queue);
      continue;
    }
    batch.forEach(function (item, i) {
      codes[item.id] = answer.codes[i];
    });
    if (answer.code === 401) {
      Logger.log('Stopping: the service refused the token or signature (401); check the script properties.');
      break;
    }
  }
  return codes;
}

/** Consecutive batches of at most MAX_BATCH_ITEMS whose request body stays within maxBytes. */
function batchesPlan_(items, maxBytes) {
  var batches = [];
  var current = [];
  var size = BATCH_ENVELOPE_BYTES;
  items.forEach(function (item) {
    var grown = size + item.bytes + (current.length ? 1 : 0);
    if (current.length && (current.length === MAX_BATCH_ITEMS || grown > maxBytes)) {
      batches.push(current);
      current = [];
      grown = BATCH_ENVELOPE_BYTES + item.bytes;
    }
    current.push(item);
    size = grown;
  });
  if (current.length) {
    batches.push(current);
  }
  return batches;
}

/** One POST to the batch endpoint: `code` of the request, `codes` per item, `maxBytes` from a 413. */
function batchPush_(batch, config) {
  var body = '{"emails":[' + batch.map(function (item) { return item.json; }).join(',') + ']}';
  var headers = signedHeaders_(config, body);
  var response;
  try {
    response = UrlFetchApp.fetch(config.batchUrl, {
      method: 'post',
      contentType: 'application/json; charset=utf-8',
      payload: body,
      headers: headers,
      muteHttpExceptions: true,
      followRedirects: false,
    });
  } catch (error) {
    var reason = errorText_(error);
    batch.forEach(function (item) {
      Logger.log('message %s: not sent, label kept (%s)', item.id, reason);
    });
    return { code: 0, codes: batch.map(function () { return 0; }) };
  }
  return batchAnswer_(batch, response.getResponseCode(), parseJson_(response.getContentText()));
}

/** Each item's answer from a 200; otherwise the request's own answer applies to every item. */
function batchAnswer_(batch, code, answer) {
  var results = code === 200 && answer && answer.results && answer.results.length === batch.length ? answer.results : null;
  var codes = batch.map(function (item, i) {
    var result = results ? results[i] : answer;
    var itemCode = results ? result.code : code;
    Logger.log('message %s: HTTP %s %s', item.id, itemCode, answerSummary_(result));
    return itemCode;
  });
  return { code: code, codes: codes, maxBytes: answer && answer.max_bytes };
}

/** The token and source, and with INGRESS_HMAC_SECRET the signature of `signed` (a POST's body, a GET's query). */
function signedHeaders_(config, signed) {
  var headers = {
    Authorization: 'Bearer ' + config.token,
    'X-Source': 'GoogleAppsScript',
  };
  if (config.hmacSecret) {
    var timestamp = String(Math.floor(Date.now() / 1000));
    headers['X-Signature-Timestamp'] = timestamp;
    headers['X-Signature'] = 'sha256=' + hmacSha256Hex_(timestamp + '.' + signed, config.hmacSecret);
  }
  return headers;
}

function parseJson_(text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    return { message: String(text || '').substring(0, 200) };
  }
}

/** UTF-8 length of a string, as the service counts the request body. */
function utf8Length_(text) {
  var bytes = 0;
  for (var i = 0; i < text.length; i++) {
    var unit = text.charCodeAt(i);
    if (unit < 0x80) {
      bytes += 1;
    } else if (unit < 0x800) {
      bytes += 2;
    } else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      bytes += 4; // a surrogate pair: one 4-byte character
      i++;
    } else {
      bytes += 3;
    }
  }
  return bytes;
}

function answerSummary_(answer) {
  if (!answer) {
    return '';
  }
  var summary = answer.status || answer.message || '';
  return answer.retry_after ? summary + ' (retry after ' + answer.retry_after + ' s)' : summary;
}

/**
 * Puts the failure label on the threads of messages whose delivery failed, and takes it off those a replay
 * delivered since. Gmail is only touched for messages whose state changed since a previous run (remembered
 * for FAILURE_STATE_SECONDS in the script cache), which keeps a run within Gmail's daily quota however many
 * failures stay listed. Errors are logged, never thrown.
 */
function failureLabelsSync_(config) {
  var answer = failuresFetch_(config);
  if (!answer) {
    return;
  }
  try {
    failureLabelsApply_(answer, config.failureLabelName);
  } catch (error) {
    Logger.log('Failure labels not updated: %s', errorText_(error));
  }
}

function failureLabelsApply_(answer, labelName) {
  var cache = CacheService.getScriptCache();
  var known = parseJson_(cache.get(FAILURE_STATE_KEY) || '{}');
  var state = {};
  var failedIds = answer.failed.map(function (item) { return item.message_id; });
  failedIds.forEach(function (id) { state[id] = 'failed'; });
  answer.recovered.forEach(function (id) { state[id] = 'recovered'; });
  var changed = function (ids, now) {
    return ids.filter(function (id) { return known[id] !== now; });
  };
  var toLabel = threadsOf_(changed(failedIds, 'failed'));
  // A thread keeps the label while any message of it is still failed.
  var toUnlabel = threadsOf_(changed(answer.recovered, 'recovered')).filter(function (thread) {
    return !thread.getMessages().some(function (message) { return state[message.getId()] === 'failed'; });
  });
  var label = GmailApp.getUserLabelByName(labelName);
  if (!label && toLabel.length) {
    label = GmailApp.createLabel(labelName);
  }
  if (label) {
    toLabel.forEach(function (thread) { thread.addLabel(label); });
    toUnlabel.forEach(function (thread) { thread.removeLabel(label); });
  }
  cache.put(FAILURE_STATE_KEY, JSON.stringify(state), FAILURE_STATE_SECONDS);
  Logger.log(
    'Failure label %s: %s failed and %s recovered message(s) listed; put on %s thread(s), taken off %s%s.',
    labelName, failedIds.length, answer.recovered.length, toLabel.length, label ? toUnlabel.length : 0,
    answer.truncated ? ' (the service listed only the newest failures)' : ''
  );
}

/** The service's failures since now − failureLookbackDays, or null (logged) on any error. */
function failuresFetch_(config) {
  var since = new Date(Date.now() - config.failureLookbackDays * DAY_MS).toISOString();
  var query = 'since=' + encodeURIComponent(since);
  // A GET has no body: the signature covers the query string exactly as sent.
  var headers = signedHeaders_(config, query);
  var response;
  try {
    response = UrlFetchApp.fetch(config.failuresUrl + '?' + query, {
      method: 'get',
      headers: headers,
      muteHttpExceptions: true,
      followRedirects: false,
    });
  } catch (error) {
    Logger.log('Failure labels not updated: %s', errorText_(error));
    return null;
  }
  var code = response.getResponseCode();
  var answer = parseJson_(response.getContentText());
  if (code !== 200 || !answer || !Array.isArray(answer.failed) || !Array.isArray(answer.recovered)) {
    Logger.log('Failure labels not updated: HTTP %s %s', code, answerSummary_(answer));
    return null;
  }
  return answer;
}

/** The threads of these Gmail message ids, each once; a message Gmail no longer has is logged and skipped. */
function threadsOf_(messageIds) {
  var threads = {};
  messageIds.forEach(function (id) {
    try {
      var thread = GmailApp.getMessageById(id).getThread();
      threads[thread.getId()] = thread;
    } catch (error) {
      Logger.log('message %s: not found in Gmail (%s)', id, errorText_(error));
    }
  });
  return Object.keys(threads).map(function (key) { return threads[key]; });
}

function errorText_(error) {
  return String(error && error.message ? error.message : error);
}

/** Hex of HMAC-SHA256 over the UTF-8 bytes; Apps Script returns signed bytes (-128..127). */
function hmacSha256Hex_(value, secret) {
  var bytes = Utilities.computeHmacSha256Signature(value, secret, Utilities.Charset.UTF_8);
  return bytes
    .map(function (b) {
      var hex = (b & 0xff).toString(16);
      return hex.length === 1 ? '0' + hex : hex;
    })
    .join('');
}
