/**
 * JSON bodies of Twilio's REST API (2010-04-01) as the stand-in returns them: the Call and
 * Recording resources with Twilio's snake_case fields, RFC 2822 dates and string-typed
 * numbers, and Twilio's error body.
 */

/** What the stand-in knows of a call. */
export interface CallState {
  sid: string;
  accountSid: string;
  from: string;
  to: string;
  direction: 'inbound' | 'outbound-api';
  status: 'queued' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'failed' | 'no-answer' | 'canceled';
  createdAt: Date;
  updatedAt: Date;
  endedAt: Date | null;
  /** When an outbound call was picked up; absent for inbound calls and unanswered ones. */
  answeredAt?: Date | null;
  /**
   * Where Twilio posts the final status of an inbound call (the number's StatusCallback
   * URL, signed); none when absent. Outbound calls take theirs from the create request.
   */
  statusCallback?: string | null;
  /** AMD's verdict (`human`, `machine_start`, `machine_end_beep`, …) when the call asked for it. */
  answeredBy?: string | null;
}

/** What the stand-in knows of a recording. */
export interface RecordingState {
  sid: string;
  accountSid: string;
  callSid: string;
  channels: 1 | 2;
  track: string;
  status: 'in-progress' | 'paused' | 'stopped' | 'processing' | 'completed' | 'absent';
  createdAt: Date;
  /** The media served at `….wav` once completed: a WAV file (see `wav.ts`). */
  audio?: Buffer;
  /** Length in seconds; the resource's `duration` once completed (Twilio sends -1 before). */
  durationSec?: number;
}

const API_VERSION = '2010-04-01';

/** Twilio's date format: RFC 2822 with a numeric zone, e.g. `Tue, 31 Aug 2010 20:36:28 +0000`. */
export function rfc2822(date: Date): string {
  return date.toUTCString().replace('GMT', '+0000');
}

/** The Call resource JSON. */
export function callResource(call: CallState) {
  const uri = `/${API_VERSION}/Accounts/${call.accountSid}/Calls/${call.sid}`;
  // An outbound call lasts from its answer; one never answered lasted 0 s.
  const startedAt = call.direction === 'outbound-api' ? call.answeredAt : call.createdAt;
  const durationSeconds = call.endedAt ? (startedAt ? Math.round((call.endedAt.getTime() - startedAt.getTime()) / 1000) : 0) : null;
  return {
    sid: call.sid,
    account_sid: call.accountSid,
    api_version: API_VERSION,
    annotation: null,
    answered_by: call.answeredBy ?? null,
    caller_name: null,
    date_created: rfc2822(call.createdAt),
    date_updated: rfc2822(call.updatedAt),
    start_time: call.status === 'queued' ? null : rfc2822(call.createdAt),
    end_time: call.endedAt ? rfc2822(call.endedAt) : null,
    duration: durationSeconds === null ? null : String(durationSeconds),
    direction: call.direction,
    forwarded_from: null,
    from: call.from,
    from_formatted: call.from,
    to: call.to,
    to_formatted: call.to,
    group_sid: null,
    parent_call_sid: null,
    phone_number_sid: null,
    price: null,
    price_unit: 'USD',
    queue_time: '0',
    status: call.status,
    trunk_sid: null,
    uri: `${uri}.json`,
    subresource_uris: {
      notifications: `${uri}/Notifications.json`,
      recordings: `${uri}/Recordings.json`,
      payments: `${uri}/Payments.json`,
      events: `${uri}/Events.json`,
      siprec: `${uri}/Siprec.json`,
      streams: `${uri}/Streams.json`,
      transcriptions: `${uri}/Transcriptions.json`,
      user_defined_message_subscriptions: `${uri}/UserDefinedMessageSubscriptions.json`,
      user_defined_messages: `${uri}/UserDefinedMessages.json`,
    },
  };
}

/** The Recording resource JSON (of a call recording started through the API). */
export function recordingResource(recording: RecordingState) {
  return {
    sid: recording.sid,
    account_sid: recording.accountSid,
    api_version: API_VERSION,
    call_sid: recording.callSid,
    conference_sid: null,
    channels: recording.channels,
    date_created: rfc2822(recording.createdAt),
    date_updated: rfc2822(recording.createdAt),
    start_time: rfc2822(recording.createdAt),
    duration: recording.status === 'completed' && recording.durationSec !== undefined ? String(Math.round(recording.durationSec)) : '-1',
    price: null,
    price_unit: null,
    encryption_details: null,
    error_code: null,
    source: 'StartCallRecordingAPI',
    status: recording.status,
    track: recording.track,
    uri: `/${API_VERSION}/Accounts/${recording.accountSid}/Calls/${recording.callSid}/Recordings/${recording.sid}.json`,
  };
}

/** Twilio's error body, e.g. `{ code: 20003, message: 'Authenticate', more_info, status: 401 }`. */
export function twilioError(status: number, code: number, message: string) {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}
