// Test workload: waits for a line on stdin, calls work(i) N times (and getpid() N times),
// prints "done", then waits for another line before exiting. The probe attaches in between,
// so the known counts are exact.
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((noinline)) long work(long n) {
  asm volatile("");
  return n * 2;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000, s = 0;
  char line[16];
  printf("ready %d\n", getpid());
  fflush(stdout);
  if (!fgets(line, sizeof line, stdin)) return 1;
  for (long i = 0; i < n; i++) {
    s += work(i);
    syscall(SYS_getpid);
  }
  printf("done %ld\n", s);
  fflush(stdout);
  if (!fgets(line, sizeof line, stdin)) return 0;
  return 0;
}
