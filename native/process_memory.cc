// Reads of another process's memory through its /proc/PID/mem fd, several ranges in one call.
// The Go runtime probe reads a handful of the scheduler's and the pacer's fields of every Go
// process every interval; through fs.readSync each read cost JS-side validation, a Buffer and
// BigInt arithmetic under the image's interpreter, ~3x the syscall itself. The fd, not the
// pid, names the process: a reused pid cannot make us read another process.
#include <napi.h>

#include <cerrno>
#include <cstdint>
#include <unistd.h>

namespace probeflow {

// preadRanges(fd, ranges: Float64Array [address, length, …], count, out: Uint8Array): how many
// ranges were read whole, one after another into out (count when all were). A range the
// process does not map (or an exited process) ends the call there.
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
  size_t at = 0;
  uint32_t done = 0;
  for (; done < count; done++) {
    // Addresses are below 2^53 on every architecture we run on (48–52-bit user space).
    const auto address = static_cast<off_t>(r[2 * done]);
    const auto length = static_cast<size_t>(r[2 * done + 1]);
    if (at + length > cap) {
      Napi::RangeError::New(env, "preadRanges: out is too small for the ranges").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    ssize_t n;
    do n = pread(fd, out + at, length, address);
    while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(length)) break;
    at += length;
  }
  return Napi::Number::New(env, done);
}

void InitProcessMemory(Napi::Env env, Napi::Object exports) { exports.Set("preadRanges", Napi::Function::New(env, PreadRanges)); }

}  // namespace probeflow
