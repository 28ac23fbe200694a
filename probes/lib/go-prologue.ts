/**
 * Where to put an entry uprobe in a Go function: after the stack-check prologue.
 * The first instruction (`cmp 0x10(%r14),%rsp`) cannot be emulated by the kernel and is
 * single-stepped (~5× the cost), and a probe on it fires again whenever the function
 * re-enters through morestack. Returns the byte offset after the prologue's JBE, or 0 when
 * the function has no stack check (NOSPLIT) or the bytes are not a form we know.
 *
 * amd64 forms, as the Go compiler emits them:
 *   [lea -N(%rsp),%r12]  cmp 0x10(%r14),%rsp|%r12  jbe rel8|rel32
 */
export function goPrologueEnd(code: Buffer, machine: 'x86_64' | 'aarch64'): number {
  if (machine !== 'x86_64') return 0;
  let i = 0;
  // lea disp8(%rsp),%r12 = 4c 8d 64 24 XX ; lea disp32(%rsp),%r12 = 4c 8d a4 24 XX XX XX XX
  if (code[0] === 0x4c && code[1] === 0x8d && code[3] === 0x24) {
    if (code[2] === 0x64) i = 5;
    else if (code[2] === 0xa4) i = 8;
  }
  // cmp 0x10(%r14),%rsp = 49 3b 66 10 ; cmp 0x10(%r14),%r12 = 4d 3b 66 10
  if (!((code[i] === 0x49 || code[i] === 0x4d) && code[i + 1] === 0x3b && code[i + 2] === 0x66 && code[i + 3] === 0x10)) return 0;
  i += 4;
  if (code[i] === 0x76) return i + 2;
  if (code[i] === 0x0f && code[i + 1] === 0x86) return i + 6;
  return 0;
}
