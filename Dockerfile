# probeflow agent image. Not built in CI here (no Docker engine on these machines).
#   docker build -t probeflow:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t probeflow:0.1.0 .   (Kunpeng nodes)
# Stage 1 builds the native addons (the libbpf binding, the exposition renderer), the BPF
# objects (CO-RE; bpf/x86 and bpf/arm64 from bpf/kernel.h, so the build machine's kernel does
# not matter) and the TypeScript; stage 2 carries only what runs.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      clang llvm libbpf-dev bpftool make g++ python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# libbpf1 for the binding at run time; nothing else from the build stage's toolchain.
RUN apt-get update && apt-get install -y --no-install-recommends libbpf1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/probeflow
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/build/Release/probeflow_bpf.node /src/build/Release/probeflow_text.node ./build/Release/
COPY --from=build /src/bpf/x86 ./bpf/x86
COPY --from=build /src/bpf/arm64 ./bpf/arm64
COPY --from=build /src/schemas ./schemas
# remote_write's and OTLP's schemas, parsed when those sinks first send.
COPY --from=build /src/sinks/lib/remote-write.proto /src/sinks/lib/otlp-metrics.proto ./sinks/lib/
COPY --from=build /src/pipelines ./pipelines
EXPOSE 9464 9465
# Lean by default, for what the agent does on a node: read maps every interval and answer
# scrapes (bench/RESULTS.md, "The agent's memory and CPU": RSS 60 MB with 1 Go process instead of
# 68 under Node's defaults, at most 70 MB with 100 instead of 109; CPU lower, 0.23% of a core
# with 100 against 0.34%).
# - a 2 MB young generation instead of V8's 16 MB semi-spaces: little is allocated per read;
#   kept at 2 MB: V8 shrinks it to 1 MB between reads, and a read with 100 Go processes (~1.6 MB)
#   then spans two or three scavenges, so what it has built survives twice and is promoted, to
#   die in the old generation (15 MB in 3.5 minutes, a mark-compact every minute or two);
# - one malloc arena: V8's and libuv's threads each kept their own, mostly empty, per thread;
# - the garbage collector on the main thread alone: its helper threads cost more CPU to start,
#   hand over and wait for than a 25 MB heap takes to collect (with 100 Go processes, 0.53–0.60%
#   of a core instead of 0.57–0.74%, in two interleaved pairs of runs and one side by side);
# - no optimizing compiler (TurboFan): its code and zones are ~5 MB of RSS, and the per-interval
#   work is too little to pay for them. Per-event pipelines (ring buffers at 100k+ events/s) want
#   it back: the engine moves ~0.6 M samples/s without it, ~2 M with it. Override the command:
#   node --max-semi-space-size=2 --min-semi-space-size=2 --single-threaded-gc /opt/probeflow/bin/probeflow.js run -c …
ENV MALLOC_ARENA_MAX=1
ENTRYPOINT ["node", "--max-semi-space-size=2", "--min-semi-space-size=2", "--no-opt", "--single-threaded-gc", "/opt/probeflow/bin/probeflow.js"]
CMD ["run", "-c", "/etc/probeflow/pipeline.yaml", "--http-listen", ":9465"]
