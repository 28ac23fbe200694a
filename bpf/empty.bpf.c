/* The floor for benchmarks: a uprobe program that does nothing, so the cost of the trap
 * itself can be told apart from the cost of what our programs do. */
#include "common.h"

SEC("uprobe")
int on_nothing(struct pt_regs *ctx) {
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
