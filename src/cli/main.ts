#!/usr/bin/env node
import { Command, Option } from 'commander';
import { defaultProviders } from '../providers/index.js';
import { durationArg, nonNegativeIntegerArg, positiveNumberArg } from './serve-options.js';
import type { ServeFlags } from './serve.js';

// Each command's module is imported when that command runs: the sidecar (`serve`) does not load yaml (validate) or the
// built-in fake cloud (demo), which is start-up time and resident memory in every MCM pod.

const program = new Command('mcm-driver').description('Gardener machine-controller-manager driver sidecar: STACKIT, CloudSigma, VPSie over gRPC');

program
  .command('serve')
  .description('serve the Driver gRPC service (loopback or a unix socket: it is a sidecar of the MCM bridge)')
  .addOption(
    new Option('--listen <address>', 'gRPC address: 127.0.0.1:PORT, [::1]:PORT or unix:///path/driver.sock').env('MCM_DRIVER_LISTEN').default('unix:///var/run/mcm-driver/driver.sock'),
  )
  .option('--allow-non-loopback-listen', 'accept a --listen address other than loopback or a unix socket (the API takes credentials and deletes VMs, unauthenticated)', false)
  .addOption(new Option('--http-listen <host:port>', '/healthz, /readyz and /metrics; empty to disable').env('MCM_DRIVER_HTTP_LISTEN').default('127.0.0.1:8080'))
  .addOption(new Option('--log-level <level>', 'cloud calls are logged at debug').choices(['error', 'warn', 'info', 'debug']).env('LOG_LEVEL').default('info'))
  .option('--shutdown-grace <duration>', 'on SIGTERM, how long in-flight calls may finish', durationArg, durationArg('30s'))
  .option('--create-timeout <duration>', 'how long CreateMachine waits for the VM to run (keep below the bridge --driver-call-timeout, 5m)', durationArg, durationArg('4m'))
  .option('--delete-timeout <duration>', 'how long DeleteMachine waits for the VM to be gone', durationArg, durationArg('4m'))
  .option('--poll-interval <duration>', 'how often a waiting call asks the cloud', durationArg, durationArg('2s'))
  .addOption(
    new Option('--state-dir <path>', 'writable directory (an emptyDir) for the create intent journal, so a restarted sidecar still knows which creates may have taken effect; empty: memory and lastKnownState only')
      .env('MCM_DRIVER_STATE_DIR')
      .default(''),
  )
  .option('--discovery-window <duration>', 'after a create with an unknown outcome, how long no second create is sent while its VM is not visible (default: per cloud, README "Create and delete safety")', durationArg)
  .option('--http-timeout <duration>', 'timeout of one cloud API request attempt', durationArg, durationArg('30s'))
  .option('--http-retries <n>', 'retries of an idempotent cloud API request (never a create)', nonNegativeIntegerArg, 4)
  .addOption(new Option('--ca-file <paths>', 'extra CA files (PEM, comma-separated) every cloud call trusts, besides the system roots and /etc/ssl/certs/cloudprofile-ca.crt').env('MCM_DRIVER_CA_FILE').default(''))
  .option('--max-cloud-response <MiB>', 'largest cloud API response body read; larger ones fail with ResourceExhausted', positiveNumberArg, 256)
  .action(async (flags: ServeFlags) => (await import('./serve.js')).serve(flags));

program
  .command('validate')
  .description('check MachineClass and Secret YAML offline (multi-document files too): every problem with file, line and column')
  .argument('<files...>', 'YAML files; a MachineClass is cross-checked with the Secrets among them that it references')
  .option('--output <format>', 'text or json', 'text')
  .action(async (files: string[], flags: { output: string }) => {
    const { formatFindings, validateFiles } = await import('./validate.js');
    const findings = await validateFiles(files, defaultProviders());
    if (flags.output === 'json') console.log(JSON.stringify(findings, null, 2));
    else console.log(findings.length ? formatFindings(findings) : `${files.length} file(s): no problems`);
    process.exitCode = findings.length ? 1 : 0;
  });

program
  .command('schema')
  .description('write the JSON Schemas of MachineClass, Secret and providerSpec per provider (for editors)')
  .option('--provider <name>', 'only this provider; without --out prints its MachineClass schema')
  .option('--out <dir>', 'write <provider>-machine-class / -secret / -provider-spec .schema.json files here')
  .action(async (flags: { provider?: string; out?: string }) => {
    const { writeSchemas } = await import('./schema.js');
    const text = writeSchemas(defaultProviders(), flags);
    if (text) console.log(text);
  });

program
  .command('demo')
  .description("start the sidecar against the built-in fake STACKIT cloud and play one machine's life through it")
  .action(async () => (await import('./demo.js')).runDemo());

program.parseAsync().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
