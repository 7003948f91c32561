/** The GraphQL operations the console sends (schema.graphql at the repository root). */

const callSummary = /* GraphQL */ `
  id callSid direction status fromNumber toNumber startedAt endedAt durationSec createdAt
  lead { fullName }
`;

export const viewerQuery = /* GraphQL */ `
  query Viewer { viewer { role business { name timezone locale } } }
`;

export const recentCallsQuery = /* GraphQL */ `
  query RecentCalls {
    calls(first: 20, filter: { status: [COMPLETED, FAILED, BUSY, NO_ANSWER, CANCELED] }) { edges { node { ${callSummary} } } }
  }
`;

export const callQuery = /* GraphQL */ `
  query Call($id: ID!) {
    call(id: $id) {
      ${callSummary}
      endReason city serviceCategory extracted summary timeline
      lead { fullName phone city serviceCategory }
      transcript { speaker text at interrupted }
      pipelineStatus pipelineSteps { step outcome error reason }
      webhookDeliveries { status }
      latency { greetingMs turns turnP50Ms turnP95Ms turnMaxMs interruptions turnMs }
      usage { estimatedCostUsd }
    }
  }
`;

export const liveCallsSubscription = /* GraphQL */ `
  subscription LiveCalls { liveCalls { type callId at call { ${callSummary} } } }
`;

export const callEventsSubscription = /* GraphQL */ `
  subscription CallEvents($id: ID!) { callEvents(callId: $id) { type at data } }
`;

export const callAudioSubscription = /* GraphQL */ `
  subscription CallAudio($id: ID!) { callAudio(callId: $id) { track seq payload } }
`;

const outboundJob = /* GraphQL */ `
  id status attempts scheduledAt purpose lastOutcome lastError
  lead { fullName phone } campaign { name } lastCall { id }
`;

export const outboundJobsQuery = /* GraphQL */ `
  query OutboundJobs { outboundCallJobs(first: 30) { nodes { ${outboundJob} } } }
`;

export const outboundJobsSubscription = /* GraphQL */ `
  subscription OutboundJobs { outboundCallJobUpdated { ${outboundJob} } }
`;

/** The Stats view's period: totals, and every day of it in the business's time zone. */
export const callStatsQuery = /* GraphQL */ `
  query CallStats($from: DateTime!, $to: DateTime!) {
    callStats(from: $from, to: $to) {
      total byStatus { status count } turnLatencyP50Ms turnLatencyP95Ms estimatedCostUsd
      byDay { day calls completed failed estimatedCostUsd turnLatencyP50Ms turnLatencyP95Ms }
    }
  }
`;
