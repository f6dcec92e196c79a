// The fault every fake accepts (test/fakes/core/fake-server.ts applies it before or after the
// fake's own handler). One shape for STACKIT, CloudSigma and (later) VPSie, so a reliability test
// names a fault once and runs it against each cloud.

/** What the fake does instead of answering once it has handled the request (the state change happened). */
export type AfterSuccess =
  /** Destroy the socket without any response: the answer is lost after the request took effect. */
  | 'drop'
  /** Send the status, headers and the first half of the body, then destroy the socket. */
  | 'truncate'
  /**
   * Answer this status (a 5xx from a gateway in front of the cloud) with the cloud's error body
   * although the request took effect: what the AWS provider's eventual-consistency duplicates
   * came from (machine-controller-manager-provider-aws#54), and what any load balancer does when
   * its upstream answers after the gateway's own timeout.
   */
  | { status: number };

export interface FaultSpec {
  /** e.g. 'POST'; default any. */
  method?: string;
  /** Tested against the path without query; default any. */
  path?: RegExp;
  /** Query parameters that must all be present with these values, e.g. { do: 'start' }. */
  query?: Record<string, string>;
  /** How many matching requests it affects (default 1). */
  times?: number;
  /** Answer with this status and the cloud's error body (or `body`) without touching state. */
  status?: number;
  body?: unknown;
  /** Added to the fault response, or to the normal response if no status is given. */
  headers?: Record<string, string>;
  /** Wait this long first; then handle normally unless status/reset is given. */
  delayMs?: number;
  /** Destroy the socket without any response, before the request is handled (nothing changes). */
  reset?: boolean;
  /** Handle the request (state changes!), then answer this way instead (see AfterSuccess). */
  afterSuccess?: AfterSuccess;
  /** Answer `status` (default 200) with exactly this text as the body, e.g. malformed JSON, without touching state. */
  rawBody?: string;
  /**
   * With `status`: the error message echoes the request as received, its Authorization header and
   * body included (what some gateways and error pages do); the secret-canary matrix relies on it.
   */
  echoRequest?: boolean;
}

/**
 * `times` requests answered 429 with `Retry-After: seconds` and nothing changed. Neither STACKIT's
 * spec (429 only on image, NIC and public-IP create, no Retry-After header declared) nor
 * cloudsigma-docs (errors.rst: no 429) documents it for servers; gateways in front of both send it
 * (RFC 9110 section 10.2.3 defines the header), and VPSie's API is rate limited per account. The
 * driver must wait at least `seconds` before the next request and never treat 429 as "gone".
 */
export function rateLimited(match: Pick<FaultSpec, 'method' | 'path'>, seconds: number, times = 1): FaultSpec {
  return { ...match, status: 429, headers: { 'retry-after': String(seconds) }, times };
}

/** The request takes effect and its answer is lost in one of the ways AfterSuccess lists. */
export function lostAnswer(match: Pick<FaultSpec, 'method' | 'path'>, how: AfterSuccess = 'drop', times = 1): FaultSpec {
  return { ...match, afterSuccess: how, times };
}
