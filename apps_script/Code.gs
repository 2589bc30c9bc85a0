/**
 * Signal Server — Gmail side (Google Apps Script).
 *
 * Every run takes the threads carrying the label (A_TRANSFERER_WEBHOOK by default), POSTs each unread
 * message to Signal Server's ingress, and removes the label from a thread only when every unread
 * message of it was answered HTTP 200 (processed, already_processed, skipped_…, deferred: all mean
 * "Signal Server has it"). Any other answer — 409 (ingress off, sending paused, outside the window),
 * 429, 5xx — or a network error keeps the label, so the next run sends the thread again; messages
 * already accepted then answer already_processed and are not delivered twice.
 *
 * Messages are left unread, as the legacy script did.
 *
 * Script properties (Project Settings → Script properties):
 *   SIGNAL_SERVER_URL    required  https://signal.example.org (the ingress path is added) or the full
 *                                  …/api/ingress/gmail URL
 *   PROCESS_API_TOKEN    required  the service's ingress token
 *   INGRESS_HMAC_SECRET  optional  when the service has INGRESS_HMAC_SECRET set: sign every request
 *   GMAIL_LABEL          optional  label to process (default A_TRANSFERER_WEBHOOK)
 *   THREADS_PER_RUN      optional  labelled threads handled per run (default 20, at most 100)
 *   TRIGGER_MINUTES      optional  installTrigger() interval: 1, 5, 10, 15 or 30 (default 5)
 *
 * Entry point: processWebhookTransfer(). Run installTrigger() once to call it every few minutes.
 */

var INGRESS_PATH = '/api/ingress/gmail';
var DEFAULT_LABEL = 'A_TRANSFERER_WEBHOOK';
var DEFAULT_THREADS_PER_RUN = 20;
var MAX_THREADS_PER_RUN = 100;
var SNIPPET_LENGTH = 200;
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
  return {
    url: url,
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
  var started = Date.now();
  var threads = label.getThreads(0, config.threadsPerRun);
  var done = 0;
  var kept = 0;
  for (var i = 0; i < threads.length; i++) {
    if (Date.now() - started > RUN_BUDGET_MS) {
      Logger.log('Time budget used; %s thread(s) left for the next run.', threads.length - i);
      break;
    }
    var outcome = transferThread_(threads[i], config);
    if (outcome === 'handled') {
      threads[i].removeLabel(label);
      done++;
    } else {
      kept++;
      if (outcome === 'unauthorized') {
        Logger.log('Stopping: the service refused the token or signature (401); check the script properties.');
        break;
      }
    }
  }
  Logger.log('Run finished: %s thread(s) handled and unlabelled, %s kept for the next run.', done, kept);
}

/** 'handled' when every unread message was answered 200; otherwise 'kept' (or 'unauthorized' on 401). */
function transferThread_(thread, config) {
  var messages = thread.getMessages();
  var outcome = 'handled';
  for (var i = 0; i < messages.length; i++) {
    var message = messages[i];
    if (!message.isUnread()) {
      continue;
    }
    var answer = messagePush_(message, config);
    if (answer.code === 200) {
      continue;
    }
    outcome = answer.code === 401 ? 'unauthorized' : 'kept';
    if (outcome === 'unauthorized') {
      break;
    }
  }
  return outcome;
}

function messagePush_(message, config) {
  var body = JSON.stringify({
    sender: message.getFrom(),
    subject: message.getSubject(),
    date: message.getDate().toISOString(),
    body: message.getBody(),
    snippet: (message.getPlainBody() || '').substring(0, SNIPPET_LENGTH),
    message_id: message.getId(),
  });
  var headers = {
    Authorization: 'Bearer ' + config.token,
    'X-Source': 'GoogleAppsScript',
  };
  if (config.hmacSecret) {
    var timestamp = String(Math.floor(Date.now() / 1000));
    headers['X-Signature-Timestamp'] = timestamp;
    headers['X-Signature'] = 'sha256=' + hmacSha256Hex_(timestamp + '.' + body, config.hmacSecret);
  }
  var ref = 'message ' + message.getId();
  try {
    var response = UrlFetchApp.fetch(config.url, {
      method: 'post',
      contentType: 'application/json; charset=utf-8',
      payload: body,
      headers: headers,
      muteHttpExceptions: true,
      followRedirects: false,
    });
    var code = response.getResponseCode();
    Logger.log('%s: HTTP %s %s', ref, code, answerSummary_(response.getContentText()));
    return { code: code };
  } catch (error) {
    Logger.log('%s: not sent, label kept (%s)', ref, String(error && error.message ? error.message : error));
    return { code: 0 };
  }
}

function answerSummary_(text) {
  try {
    var answer = JSON.parse(text);
    return answer.status || answer.message || text.substring(0, 200);
  } catch (error) {
    return String(text || '').substring(0, 200);
  }
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
