// Reads of another process's memory through its /proc/PID/mem fd, several ranges in one call.
// The Go runtime probe reads a handful of the scheduler's and the pacer's fields of every Go
// process every interval; through fs.readSync each read cost JS-side validation, a Buffer and
// BigInt arithmetic under the image's interpreter, ~3x the syscall itself. The fd, not the
// pid, names the process: a reused pid cannot make us read another process.
#include <napi.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <unistd.h>
#include <vector>

namespace probeflow {

namespace {

// Ranges this close are read as one span: a Go binary's scheduler globals sit together in its
// data segment (allp beside sched, allglen beside gcController, ~3 KiB apart), so a process's
// five reads an interval become three. /proc/PID/mem costs a syscall, a bounce page and a page
// walk per read; the bytes between two ranges cost only their copy.
constexpr size_t kMaxSpan = 8192;

struct Range {
  uint64_t address;
  size_t length;
  size_t at;  // where its bytes go in out
};

bool ReadWhole(int fd, uint8_t* into, size_t length, uint64_t address) {
  ssize_t n;
  do n = pread(fd, into, length, static_cast<off_t>(address));
  while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(length);
}

}  // namespace

// preadRanges(fd, ranges: Float64Array [address, length, …], count, out: Uint8Array): how many
// ranges, in their order, were read whole into out one after another (count when all were). A
// range the process does not map (or an exited process) ends the count there.
Napi::Value PreadRanges(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsNumber() || !info[3].IsTypedArray()) {
    Napi::TypeError::New(env, "preadRanges(fd, ranges: Float64Array, count, out: Uint8Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto ranges = info[1].As<Napi::Float64Array>();
  uint32_t count = info[2].As<Napi::Number>().Uint32Value();
  auto target = info[3].As<Napi::Uint8Array>();
  if (static_cast<size_t>(count) * 2 > ranges.ElementLength()) {
    Napi::RangeError::New(env, "preadRanges: count is past the end of ranges").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const double* r = ranges.Data();
  uint8_t* out = target.Data();
  const size_t cap = target.ByteLength();
  std::vector<Range> all(count);
  size_t at = 0;
  for (uint32_t i = 0; i < count; i++) {
    // Addresses are below 2^53 on every architecture we run on (48–52-bit user space).
    all[i] = {static_cast<uint64_t>(r[2 * i]), static_cast<size_t>(r[2 * i + 1]), at};
    at += all[i].length;
  }
  if (at > cap) {
    Napi::RangeError::New(env, "preadRanges: out is too small for the ranges").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<uint32_t> order(count);
  for (uint32_t i = 0; i < count; i++) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return all[a].address < all[b].address; });
  std::vector<bool> read(count, false);
  uint8_t span[kMaxSpan];
  for (size_t g = 0; g < order.size();) {
    // A group: ranges in address order whose union fits one span.
    const uint64_t first = all[order[g]].address;
    uint64_t end = first + all[order[g]].length;
    size_t next = g + 1;
    while (next < order.size()) {
      const Range& c = all[order[next]];
      const uint64_t cEnd = std::max(end, c.address + c.length);
      if (cEnd - first > kMaxSpan) break;
      end = cEnd;
      next++;
    }
    if (next - g > 1 && ReadWhole(fd, span, end - first, first)) {
      for (size_t k = g; k < next; k++) {
        const Range& c = all[order[k]];
        memcpy(out + c.at, span + (c.address - first), c.length);
        read[order[k]] = true;
      }
    } else {
      // One range, or a span that crosses something unmapped: each on its own.
      for (size_t k = g; k < next; k++) {
        const Range& c = all[order[k]];
        read[order[k]] = c.length == 0 || ReadWhole(fd, out + c.at, c.length, c.address);
      }
    }
    g = next;
  }
  uint32_t done = 0;
  while (done < count && read[done]) done++;
  return Napi::Number::New(env, done);
}

void InitProcessMemory(Napi::Env env, Napi::Object exports) { exports.Set("preadRanges", Napi::Function::New(env, PreadRanges)); }

}  // namespace probeflow
