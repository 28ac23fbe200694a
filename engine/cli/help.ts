export const DEFAULT_CONFIG = '/etc/probeflow/pipeline.yaml';

export const HELP: Record<string, string> = {
  main: `probeflow — declarative eBPF pipelines: probes → stages → sinks

Usage: probeflow <command> [options]

Commands:
  run         Run the pipelines of a config until stopped (SIGINT/SIGTERM: drain, then exit)
  validate    Check config files; print FILE:LINE:COL: errors; exit 1 if any is invalid
  graph       Print the wired topology of a config as text or Graphviz DOT
  components  List every probe, stage and sink type with its options
  doctor      Check what this kernel and machine allow probes to do, and what to fix

Global options:
  --log-level <debug|info|warn|error>   default: info (env PROBEFLOW_LOG_LEVEL)
  --log-format <json|text>              default: json when stderr is not a terminal
  -h, --help                            help for probeflow or a command
  --version                             print the version

The config file defaults to $PROBEFLOW_CONFIG, else ${DEFAULT_CONFIG}.
Run 'probeflow <command> --help' for a command's options.`,
  run: `Usage: probeflow run [-c FILE] [options]

Loads FILE, refuses it with located errors if it is invalid, then attaches every probe and
streams samples through each pipeline's stages to its sinks. Runs until SIGINT or SIGTERM
(then: flush sinks, detach probes, exit) or until every finite source (a replay, synthetic
with ticks) has finished. A probe or sink that fails is down, not fatal: the agent keeps
running, /readyz answers 503 with one line per component that is down, and a reload
(even of the same file) tries it again.

Reload without a restart: SIGHUP, a change of FILE (also a Kubernetes ConfigMap update), or
POST /-/reload. Only what changed is rebuilt; a config that does not validate or cannot be
built is refused with its errors and the running pipelines carry on. Refused content is not
tried again until the file changes (SIGHUP and POST /-/reload always try).

Exit status: 0 stopped and drained (or every source finished); 1 the config was refused at
start, nothing ran; 2 a usage error; 3 stopped, but a sink had not flushed by --drain-timeout.

Options:
  -c, --config FILE        pipeline.yaml to run (default: $PROBEFLOW_CONFIG or ${DEFAULT_CONFIG})
  --drain-timeout DUR      longest a shutdown may take flushing and stopping sinks (default: 10s)
  --http-listen ADDR       the engine's endpoint: /healthz /readyz /metrics POST /-/reload
                           (default: 127.0.0.1:9465, env PROBEFLOW_HTTP_LISTEN; "off" for none)
  --watch-interval DUR     also poll FILE for changes this often (default: 10s; 0s: watch only)
  --allow-write DIR        a directory file-writing sinks may write into; repeat for more
                           (default: $PROBEFLOW_ALLOW_WRITE, colon-separated, or /var/lib/probeflow).
                           Set here, not in FILE, so editing the config cannot make the
                           agent write elsewhere; a path outside is refused at validation`,
  validate: `Usage: probeflow validate FILE [FILE...]

Parses and checks each file: YAML syntax, the schema of every component, ids and wiring
(unknown ids, cycles, unused components, sinks fed kinds they cannot take).
Errors and warnings go to stderr as FILE:LINE:COL: [field: ]message.
Exit status: 0 when every file is valid (warnings allowed), 1 otherwise.

Options:
  --quiet               print nothing for valid files
  --allow-write DIR     as for run: paths that sinks write outside these directories are errors`,
  graph: `Usage: probeflow graph [-f text|dot] FILE

Prints how FILE wires probes, stages and sinks. The DOT output renders with Graphviz:
  probeflow graph -f dot pipeline.yaml | dot -Tsvg > pipeline.svg

Options:
  -f, --format text|dot   default: text`,
  doctor: `Usage: probeflow doctor [--fix] [--json]

Checks the kernel version, BTF, the bpf syscall, uprobe and kprobe support, tracefs, bpffs,
capabilities, the memlock limit, the libbpf binding and the BPF objects, and prints what
works and what to do about what does not. 'run' refuses only the probes that need a
missing feature, with the same reason.
Exit status: 1 if an essential check fails (no probe could run), else 0.

Options:
  --fix    mount tracefs if it is missing
  --json   print the checks as JSON`,
  components: `Usage: probeflow components [TYPE] [--json]

Lists every registered probe, stage and sink type with a one-line description. With TYPE,
shows that component's options (type, default, description) from its JSON Schema.

Options:
  --json   print the schemas as JSON`,
};
