#!/usr/bin/env node
import { Command } from 'commander';
import { defaultProviders } from '../providers/index.js';
import { runDemo } from './demo.js';
import { writeSchemas } from './schema.js';
import { serve } from './serve.js';
import { formatFindings, validateFiles } from './validate.js';

const program = new Command('mcm-driver').description('Gardener machine-controller-manager driver sidecar: STACKIT, CloudSigma, VPSie over gRPC');

program
  .command('serve')
  .description('serve the Driver gRPC service (loopback or a unix socket: it is a sidecar of the MCM bridge)')
  .option('--listen <address>', 'gRPC address: 127.0.0.1:PORT or unix:///path/driver.sock', process.env.MCM_DRIVER_LISTEN ?? 'unix:///var/run/mcm-driver/driver.sock')
  .option('--http-listen <host:port>', '/healthz, /readyz and /metrics; empty to disable', process.env.MCM_DRIVER_HTTP_LISTEN ?? '127.0.0.1:8080')
  .option('--log-level <level>', 'error, warn, info or debug (cloud calls are logged at debug)', process.env.LOG_LEVEL ?? 'info')
  .option('--shutdown-grace <duration>', 'on SIGTERM, how long in-flight calls may finish', '30s')
  .option('--create-timeout <duration>', 'how long CreateMachine waits for the VM to run (keep below the bridge --driver-call-timeout, 5m)', '4m')
  .option('--delete-timeout <duration>', 'how long DeleteMachine waits for the VM to be gone', '4m')
  .option('--poll-interval <duration>', 'how often a waiting call asks the cloud', '2s')
  .option('--http-timeout <duration>', 'timeout of one cloud API request attempt', '30s')
  .option('--http-retries <n>', 'retries of an idempotent cloud API request (never a create)', '4')
  .option('--ca-file <paths>', 'extra CA files (PEM, comma-separated) every cloud call trusts, besides the system roots and /etc/ssl/certs/cloudprofile-ca.crt', process.env.MCM_DRIVER_CA_FILE ?? '')
  .option('--max-cloud-response <MiB>', 'largest cloud API response body read; larger ones fail with ResourceExhausted', '256')
  .action(serve);

program
  .command('validate')
  .description('check MachineClass and Secret YAML offline (multi-document files too): every problem with file, line and column')
  .argument('<files...>', 'YAML files; a MachineClass is cross-checked with the Secrets among them that it references')
  .option('--output <format>', 'text or json', 'text')
  .action(async (files: string[], flags: { output: string }) => {
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
  .action((flags: { provider?: string; out?: string }) => {
    const text = writeSchemas(defaultProviders(), flags);
    if (text) console.log(text);
  });

program
  .command('demo')
  .description("start the sidecar against the built-in fake STACKIT cloud and play one machine's life through it")
  .action(runDemo);

program.parseAsync().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
