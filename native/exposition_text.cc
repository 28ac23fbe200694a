// The Prometheus/OpenMetrics text body, rendered in one call from byte blocks the JS side
// prepared once per family and per label set, and the series' latest values. With 100 Go
// processes a scrape is ~14k lines: built as JS strings under the image's interpreter
// (--no-opt), then encoded to UTF-8, it cost about as much CPU as everything else the agent
// does. What text goes where stays in sinks/lib/exposition.ts; this file only copies bytes
// and prints numbers, as JavaScript's String(number) prints them, into a buffer JS owns.
#include <napi.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// A line of the table is four words: three block ids (kNone: no block) and one word of
// op | flags | slot << kSlotShift. The ops say what follows the blocks.
constexpr uint32_t kNone = 0xffffffffu;
constexpr uint32_t kOpNone = 0;        // blocks only (a # HELP/# TYPE header carries its own newline)
constexpr uint32_t kOpValue = 1;       // " " is in the blocks; then values[slot] and "\n"
constexpr uint32_t kOpCumulative = 2;  // a histogram's first bucket: the running sum starts at values[slot]
constexpr uint32_t kOpAccumulate = 3;  // its further buckets: the running sum grows by values[slot]
constexpr uint32_t kOpMask = 3;
constexpr uint32_t kSlotShift = 2;

// JavaScript's Number::toString (ECMA-262 Number::toString, radix 10): the shortest digits
// that read back as the same double, laid out plainly from 1e-6 to 1e21 and in exponent form
// outside. NaN and the infinities as Prometheus spells them. Writes at most kNumberMax bytes.
constexpr size_t kNumberMax = 32;

size_t PrintNumber(double v, char* out) {
  char* o = out;
  auto put = [&o](const char* s, size_t n) {
    std::memcpy(o, s, n);
    o += n;
  };
  if (std::isnan(v)) {
    put("NaN", 3);
    return 3;
  }
  if (std::isinf(v)) {
    put(v > 0 ? "+Inf" : "-Inf", 4);
    return 4;
  }
  if (v == 0) {  // -0 too, as String(-0)
    *o = '0';
    return 1;
  }
  if (v < 0) {
    *o++ = '-';
    v = -v;
  }
  // Counts and byte totals: every integer below 2^53 is its own shortest form.
  if (v < 9007199254740992.0 && v == std::floor(v)) return std::to_chars(o, out + kNumberMax, static_cast<uint64_t>(v)).ptr - out;
  // Shortest round-trip digits, as d.ddde±x; then JavaScript's layout of them.
  char sci[kNumberMax];
  auto r = std::to_chars(sci, sci + sizeof sci, v, std::chars_format::scientific);
  const char* e = sci;
  while (e < r.ptr && *e != 'e') e++;
  char digits[24];
  int k = 0;
  for (const char* p = sci; p < e; p++)
    if (*p != '.') digits[k++] = *p;
  int exponent = 0;
  std::from_chars(e + 1 + (e[1] == '+'), r.ptr, exponent);
  const int n = exponent + 1;  // the decimal point sits after n digits
  if (k <= n && n <= 21) {
    put(digits, k);
    std::memset(o, '0', n - k);
    o += n - k;
  } else if (0 < n && n <= 21) {
    put(digits, n);
    *o++ = '.';
    put(digits + n, k - n);
  } else if (-6 < n && n <= 0) {
    put("0.", 2);
    std::memset(o, '0', -n);
    o += -n;
    put(digits, k);
  } else {
    *o++ = digits[0];
    if (k > 1) {
      *o++ = '.';
      put(digits + 1, k - 1);
    }
    put(n - 1 >= 0 ? "e+" : "e-", 2);
    o = std::to_chars(o, out + kNumberMax, std::abs(n - 1)).ptr;
  }
  return o - out;
}

class TextBlocks : public Napi::ObjectWrap<TextBlocks> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "TextBlocks",
                       {InstanceMethod("put", &TextBlocks::Put), InstanceMethod("drop", &TextBlocks::Drop),
                        InstanceMethod("render", &TextBlocks::Render), InstanceMethod("count", &TextBlocks::Count)});
  }

  explicit TextBlocks(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TextBlocks>(info) {}

 private:
  std::vector<std::string> blocks_;
  std::vector<uint32_t> free_;
  size_t live_ = 0;

  // put(text): the text's UTF-8 bytes kept under a new id (a dropped one's, reused).
  Napi::Value Put(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) {
      Napi::TypeError::New(env, "put(text): text must be a string").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::string text = info[0].As<Napi::String>().Utf8Value();
    uint32_t id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
      blocks_[id] = std::move(text);
    } else {
      id = static_cast<uint32_t>(blocks_.size());
      blocks_.push_back(std::move(text));
    }
    live_++;
    return Napi::Number::New(env, id);
  }

  // drop(id): its bytes are freed and the id may come back from a later put.
  void Drop(const Napi::CallbackInfo& info) {
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    if (id >= blocks_.size()) {
      Napi::RangeError::New(info.Env(), "drop(id): no block " + std::to_string(id)).ThrowAsJavaScriptException();
      return;
    }
    std::string().swap(blocks_[id]);
    free_.push_back(id);
    live_--;
  }

  // count(): blocks held, for tests that check nothing leaks.
  Napi::Value Count(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(live_)); }

  // render(lines: Uint32Array, lineCount, values: Float64Array, out: Uint8Array): the body's
  // length, written into out; or, when out is too small, minus the length it needs (nothing
  // useful is in out then). Into the caller's buffer: a body made per scrape (~7 MB at 100k
  // series) waited for a garbage collection to be freed, and bodies piled up in between.
  Napi::Value Render(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray() || !info[2].IsTypedArray() || !info[3].IsTypedArray()) {
      Napi::TypeError::New(env, "render(lines, lineCount, values, out): lines is a Uint32Array, values a Float64Array, out a Uint8Array").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto lines = info[0].As<Napi::Uint32Array>();
    uint32_t count = info[1].As<Napi::Number>().Uint32Value();
    auto values = info[2].As<Napi::Float64Array>();
    auto target = info[3].As<Napi::Uint8Array>();
    if (static_cast<size_t>(count) * 4 > lines.ElementLength()) {
      Napi::RangeError::New(env, "render: lineCount is past the end of lines").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const uint32_t* l = lines.Data();
    const double* v = values.Data();
    const size_t nValues = values.ElementLength();
    char* out = reinterpret_cast<char*>(target.Data());
    const size_t cap = target.ByteLength();
    size_t at = 0;  // bytes the body has so far; past cap, only counted
    char number[kNumberMax + 1];
    double running = 0;
    for (uint32_t i = 0; i < count; i++, l += 4) {
      for (int b = 0; b < 3; b++) {
        if (l[b] == kNone) continue;
        if (l[b] >= blocks_.size()) {
          Napi::RangeError::New(env, "render: line " + std::to_string(i) + " names block " + std::to_string(l[b]) + ", which does not exist").ThrowAsJavaScriptException();
          return env.Undefined();
        }
        const std::string& block = blocks_[l[b]];
        if (at + block.size() <= cap) std::memcpy(out + at, block.data(), block.size());
        at += block.size();
      }
      uint32_t op = l[3] & kOpMask;
      if (op == kOpNone) continue;
      uint32_t slot = l[3] >> kSlotShift;
      if (slot >= nValues) {
        Napi::RangeError::New(env, "render: line " + std::to_string(i) + " reads value slot " + std::to_string(slot) + " of " + std::to_string(nValues)).ThrowAsJavaScriptException();
        return env.Undefined();
      }
      double x = v[slot];
      if (op == kOpCumulative) running = x;
      if (op == kOpAccumulate) x = running += x;
      size_t n = PrintNumber(x, number);
      number[n++] = '\n';
      if (at + n <= cap) std::memcpy(out + at, number, n);
      at += n;
    }
    return Napi::Number::New(env, at <= cap ? static_cast<double>(at) : -static_cast<double>(at));
  }
};

// formatNumber(v): AppendNumber alone, so tests can hold it to String(v).
Napi::Value FormatNumber(const Napi::CallbackInfo& info) {
  char s[kNumberMax];
  size_t n = PrintNumber(info[0].As<Napi::Number>().DoubleValue(), s);
  return Napi::String::New(info.Env(), s, n);
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("TextBlocks", TextBlocks::Init(env));
  exports.Set("formatNumber", Napi::Function::New(env, FormatNumber));
  return exports;
}

}  // namespace

NODE_API_MODULE(probeflow_text, InitModule)
