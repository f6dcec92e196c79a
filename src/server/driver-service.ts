import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { MachineCode, machineCodeName } from '../driver/codes.js';
import { asMachineError } from '../driver/errors.js';
import type { MachineDriver, MachineStatus } from '../driver/machine-driver.js';
import { MachineError } from '../driver/machine-error.js';
import { isObject } from '../driver/machine-request.js';
import type { SecretData } from '../driver/provider.js';
import { loadAllProviders } from '../driver/provider-registry.js';
import { liveSecrets } from '../observability/live-secrets.js';
import { logger, runWithRequestContext } from '../observability/logger.js';
import { rpcDuration, rpcInFlight, rpcRequests } from '../observability/metrics.js';
import { mcmSafe } from './message-hygiene.js';
import { driverServiceDefinition } from './proto.js';
import { statusDetails } from './rich-status.js';

interface MachineRequest {
  machine?: Buffer;
  machineClass?: Buffer;
  secretData?: Record<string, Buffer>;
}

/** Time kept back from the caller's deadline so the answer (with its lastKnownState) still reaches it. */
const DEADLINE_RESERVE_MS = 500;

/**
 * The gRPC face of MachineDriver: one handler per RPC, each honouring
 * cancellation and deadlines through an AbortSignal, logging one line and
 * counting one metric per call, and sending failures as the MCM code with
 * the response MCM reads attached in `grpc-status-details-bin`.
 */
export class DriverService {
  private readonly inFlight = new Set<AbortController>();

  constructor(private readonly driver: MachineDriver) {}

  addTo(server: grpc.Server): void {
    const d = this.driver;
    server.addService(driverServiceDefinition, {
      CreateMachine: this.unary<MachineRequest>('CreateMachine', 'mcm.driver.v1.CreateMachineResponse', async (req, signal) =>
        statusResponse(await d.createMachine(machineCall(req), signal)),
      ),
      InitializeMachine: this.unary<MachineRequest>('InitializeMachine', 'mcm.driver.v1.InitializeMachineResponse', async (req, signal) =>
        statusResponse(await d.initializeMachine(machineCall(req), signal)),
      ),
      DeleteMachine: this.unary<MachineRequest>('DeleteMachine', 'mcm.driver.v1.DeleteMachineResponse', (req, signal) =>
        d.deleteMachine(machineCall(req), signal),
      ),
      GetMachineStatus: this.unary<MachineRequest>('GetMachineStatus', 'mcm.driver.v1.GetMachineStatusResponse', async (req, signal) =>
        statusResponse(await d.getMachineStatus(machineCall(req), signal)),
      ),
      ListMachines: this.unary<MachineRequest>('ListMachines', 'mcm.driver.v1.ListMachinesResponse', async (req, signal) => ({
        machineList: await d.listMachines({ machineClass: req.machineClass, secretData: req.secretData ?? {} }, signal),
      })),
      GetVolumeIDs: this.unary<{ pvSpecs?: Buffer[] }>('GetVolumeIDs', 'mcm.driver.v1.GetVolumeIDsResponse', async (req) => {
        // Every cloud is asked whether a PV is its own, so every adapter must be loaded (once; a no-op after).
        await loadAllProviders();
        return { volumeIds: d.getVolumeIds(parsePvSpecs(req.pvSpecs ?? [])) };
      }),
    });
  }

  /** Ends every call still running with Unavailable (MCM retries in 5 s); used when the grace period of a shutdown is over. */
  abortAll(reason: string): void {
    for (const c of this.inFlight) c.abort(new MachineError(MachineCode.Unavailable, reason));
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private unary<Req extends object>(
    method: string,
    responseType: string,
    handle: (req: Req, signal: AbortSignal) => Promise<object>,
  ): grpc.handleUnaryCall<Req, object> {
    return (call, callback) => {
      const req = call.request;
      const described = this.driver.describeCall(req as MachineRequest);
      const ctx = { requestId: randomUUID(), method, ...described };
      // The call's Secret values are live (redacted from every output of the process) until its answer is sent.
      const releaseSecrets = liveSecrets.holdSecretData((req as MachineRequest).secretData as SecretData | undefined);
      const controller = new AbortController();
      const stopWatching = watchCall(call, controller);
      this.inFlight.add(controller);
      rpcInFlight.inc({ method });
      const started = performance.now();

      runWithRequestContext(ctx, () => {
        handle(req, controller.signal)
          .then(
            (response) => ({ code: MachineCode.OK, response, error: undefined }),
            (err: unknown) => ({ code: undefined, response: undefined, error: asMachineError(err, controller.signal) }),
          )
          .then(({ response, error }) => {
            const code = error ? error.code : MachineCode.OK;
            const seconds = (performance.now() - started) / 1000;
            rpcRequests.inc({ method, provider: ctx.provider || 'none', code: machineCodeName(code) });
            rpcDuration.observe({ method, provider: ctx.provider || 'none' }, seconds);
            if (!error) {
              logger.info('rpc', { code: 'OK', durationMs: Math.round(seconds * 1000) });
              callback(null, response);
              return;
            }
            // Redact first, on the raw text: a secret with a bracket no longer matches once mcmSafe has rewritten it.
            const message = mcmSafe(liveSecrets.redact(error.message));
            const level = code === MachineCode.NotFound ? 'info' : 'warn';
            logger.log(level, 'rpc', { code: error.codeName, durationMs: Math.round(seconds * 1000), error: message });
            // Code 17 (Uninitialized) is not in grpc-js's enum but travels as a plain number.
            callback({ code: code as number as grpc.status, details: message, metadata: errorMetadata(code, message, responseType, error) });
          })
          .finally(() => {
            releaseSecrets();
            stopWatching();
            this.inFlight.delete(controller);
            rpcInFlight.dec({ method });
          });
      });
    };
  }
}

function machineCall(req: MachineRequest) {
  return { machine: req.machine, machineClass: req.machineClass, secretData: req.secretData ?? {} };
}

function statusResponse(s: MachineStatus) {
  return { providerId: s.providerId, nodeName: s.nodeName, addresses: s.addresses };
}

function parsePvSpecs(raw: Buffer[]): Record<string, unknown>[] {
  const specs: Record<string, unknown>[] = [];
  for (const bytes of raw) {
    try {
      const v: unknown = JSON.parse(bytes.toString('utf8'));
      if (isObject(v)) specs.push(v);
    } catch {
      // A PV spec we cannot read is not ours: MCM treats "no ID" as "not tracked".
    }
  }
  return specs;
}

/** The response MCM reads together with this error, where it reads one (mcm-contract.md summary 3). */
function errorMetadata(code: MachineCode, message: string, responseType: string, err: MachineError): grpc.Metadata | undefined {
  // Not rewritten by mcmSafe (MCM hands lastKnownState back to us), only redacted.
  const [lastKnownState, providerId, nodeName] = [err.details.lastKnownState, err.details.providerId, err.details.nodeName].map((v) => liveSecrets.redact(v ?? ''));
  if (responseType.endsWith('CreateMachineResponse') || responseType.endsWith('DeleteMachineResponse')) {
    return statusDetails(code, message, responseType, { lastKnownState });
  }
  if (code === MachineCode.Uninitialized) {
    return statusDetails(code, message, responseType, { providerId, nodeName });
  }
  return undefined;
}

/** Aborts the handler's signal when the caller cancels or its deadline is about to pass. */
function watchCall(call: grpc.ServerUnaryCall<unknown, unknown>, controller: AbortController): () => void {
  const onCancel = () => controller.abort(new MachineError(MachineCode.Canceled, 'the caller canceled the call'));
  call.on('cancelled', onCancel);
  let timer: NodeJS.Timeout | undefined;
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number(deadline);
  if (Number.isFinite(deadlineMs)) {
    const wait = Math.max(0, deadlineMs - Date.now() - DEADLINE_RESERVE_MS);
    timer = setTimeout(() => controller.abort(new MachineError(MachineCode.DeadlineExceeded, 'the call ran out of time before the cloud finished')), wait);
  }
  return () => {
    call.removeListener('cancelled', onCancel);
    if (timer) clearTimeout(timer);
  };
}
