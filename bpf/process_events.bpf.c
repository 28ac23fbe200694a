/* Process lifecycle for the agent's process watcher: a new process (fork of a thread-group
 * leader), an exec (same pid, new binary) and a process exit, as raw tracepoints (no tracefs,
 * Linux 4.17+), into one ring buffer (5.8+). User space keeps the /proc rescan as a safety net,
 * so a record lost to a full ring only delays discovery; it counts them in `events_dropped`.
 */
#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* The two fields read, relocated onto the kernel's task_struct at load (CO-RE ignores the
 * ___suffix): reading a vmlinux.h task_struct would carry its whole type graph into this
 * object's BTF (650 KB instead of a few). */
struct task_struct___pf {
  int pid;
  int tgid;
} __attribute__((preserve_access_index));

enum { EV_FORK = 1, EV_EXEC = 2, EV_EXIT = 3 };

struct process_event {
  __u32 type;
  __u32 pid;
};

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} process_events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} events_dropped SEC(".maps");

static __always_inline int send(__u32 type, __u32 pid) {
  struct process_event *e = bpf_ringbuf_reserve(&process_events, sizeof(*e), 0);
  if (!e) {
    __u32 zero = 0;
    __u64 *n = bpf_map_lookup_elem(&events_dropped, &zero);
    if (n) __sync_fetch_and_add(n, 1);
    return 0;
  }
  e->type = type;
  e->pid = pid;
  bpf_ringbuf_submit(e, 0);
  return 0;
}

/* Threads are not processes: only a task that leads its thread group counts. */
static __always_inline int leader_event(__u32 type, struct task_struct___pf *task) {
  __u32 pid = BPF_CORE_READ(task, pid);
  __u32 tgid = BPF_CORE_READ(task, tgid);
  if (pid != tgid) return 0;
  return send(type, tgid);
}

/* sched_process_fork(struct task_struct *parent, struct task_struct *child) */
SEC("raw_tracepoint/sched_process_fork")
int on_fork(struct bpf_raw_tracepoint_args *ctx) {
  return leader_event(EV_FORK, (struct task_struct___pf *)ctx->args[1]);
}

/* sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm): after
 * exec, even from a non-leader thread, the task leads its group and /proc/PID/exe is the new binary. */
SEC("raw_tracepoint/sched_process_exec")
int on_exec(struct bpf_raw_tracepoint_args *ctx) {
  return leader_event(EV_EXEC, (struct task_struct___pf *)ctx->args[0]);
}

/* sched_process_exit(struct task_struct *p, ...): fires per exiting thread; the leader's is the process's. */
SEC("raw_tracepoint/sched_process_exit")
int on_exit(struct bpf_raw_tracepoint_args *ctx) {
  return leader_event(EV_EXIT, (struct task_struct___pf *)ctx->args[0]);
}

char LICENSE[] SEC("license") = "GPL";
