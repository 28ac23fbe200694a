// A thin N-API binding over libbpf: open/load BPF objects, set globals, attach programs,
// read and write maps, consume ring buffers on the libuv loop. Policy lives in TypeScript;
// this file only translates calls and owns kernel handles so that closing an object
// releases every link, map and program fd it created.
#include <napi.h>
#include <uv.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <set>
#include <mutex>
#include <string>
#include <vector>

namespace probeflow {
// native/process_memory.cc: reads of other processes' memory, for the probes beside their maps.
void InitProcessMemory(Napi::Env env, Napi::Object exports);
}  // namespace probeflow

namespace {

// ---- libbpf log: kept in a bounded buffer; errors carry its tail, JS can drain it. ----
std::mutex g_log_mu;
std::deque<std::string> g_log;
constexpr size_t kLogLines = 2000;

int LibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  // Verifier logs arrive as one long message; keep all of it, a line per entry, because
  // the reason a program was refused is at its end.
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string text(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(text.data(), text.size(), fmt, args);
  text.resize(n);
  std::lock_guard<std::mutex> lock(g_log_mu);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) g_log.push_back((level == LIBBPF_WARN ? "warn: " : "info: ") + text.substr(start, end - start));
    start = end + 1;
  }
  while (g_log.size() > kLogLines) g_log.pop_front();
  return 0;
}

std::string LogTail(size_t lines) {
  std::lock_guard<std::mutex> lock(g_log_mu);
  std::string out;
  size_t start = g_log.size() > lines ? g_log.size() - lines : 0;
  for (size_t i = start; i < g_log.size(); i++) out += "\n  libbpf " + g_log[i];
  return out;
}

void ClearLog() {
  std::lock_guard<std::mutex> lock(g_log_mu);
  g_log.clear();
}

const char* ErrnoCode(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case ESRCH: return "ESRCH";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case E2BIG: return "E2BIG";
    case ENOMEM: return "ENOMEM";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOSPC: return "ENOSPC";
    case EBADF: return "EBADF";
    default: return "EBPF";
  }
}

// Throws a JS Error whose message says what failed, why (errno) and what libbpf logged.
Napi::Value Fail(Napi::Env env, const std::string& what, int err) {
  if (err < 0) err = -err;
  std::string msg = what + ": " + strerror(err) + LogTail(24);
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, ErrnoCode(err)));
  e.Set("errno", Napi::Number::New(env, err));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

int PossibleCpus() {
  static int n = libbpf_num_possible_cpus();
  return n;
}

bool IsPerCpu(enum bpf_map_type t) {
  return t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
         t == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

// The kernel copies round_up(value_size, 8) bytes per possible CPU for per-CPU maps.
size_t ValueStride(const struct bpf_map* m) {
  size_t vs = bpf_map__value_size(m);
  return IsPerCpu(bpf_map__type(m)) ? ((vs + 7) / 8) * 8 * PossibleCpus() : vs;
}


// ---------------------------------------------------------------------------------------
// Closing a uprobe link waits for an RCU tasks-trace grace period in the kernel (~0.1 s here,
// bpf_perf_link_release → synchronize_rcu_tasks_trace). One after another on Node's main
// thread, 450 links (50 Go binaries) held the event loop ~45 s: no scrape, no SIGTERM. So
// links are closed here, off the main thread, by up to kCloserThreads threads at once —
// waiters that overlap share grace periods — and JS gets a Promise.
constexpr size_t kCloserThreads = 32;

// uprobe_multi, from the kernel's uapi/linux/bpf.h (6.6+); this machine's headers are 6.1's.
constexpr uint32_t kBpfLinkCreate = 28;      // enum bpf_cmd BPF_LINK_CREATE
constexpr uint32_t kTraceUprobeMulti = 48;   // enum bpf_attach_type BPF_TRACE_UPROBE_MULTI
// union bpf_attr's link_create member with its uprobe_multi arm; the kernel zero-fills the rest.
struct UprobeMultiLinkCreate {
  uint32_t prog_fd;
  uint32_t target_fd;
  uint32_t attach_type;
  uint32_t flags;
  uint64_t path;
  uint64_t offsets;
  uint64_t ref_ctr_offsets;
  uint64_t cookies;
  uint32_t cnt;
  uint32_t multi_flags;  // BPF_F_UPROBE_MULTI_RETURN would make it a uretprobe: never set
  uint32_t pid;
  uint32_t pad;
};
static_assert(sizeof(UprobeMultiLinkCreate) == 64, "link_create.uprobe_multi layout");

class LinkCloser : public Napi::AsyncWorker {
 public:
  LinkCloser(Napi::Env env, std::vector<struct bpf_link*> links, std::vector<int> fds, struct bpf_object* obj)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), links_(std::move(links)), fds_(std::move(fds)), obj_(obj) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    size_t n = links_.size() + fds_.size();
    size_t want = std::min(n, kCloserThreads);
    std::vector<pthread_t> threads;
    for (size_t t = 1; t < want; t++) {
      pthread_t th;
      if (pthread_create(&th, nullptr, &LinkCloser::Run, this) != 0) break;  // fewer threads, same work
      threads.push_back(th);
    }
    Run(this);  // this thread takes a share too, and all of it if no thread could start
    for (pthread_t th : threads) pthread_join(th, nullptr);
    // After the links: they hold the programs the object owns.
    if (obj_) bpf_object__close(obj_);
  }

  void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), static_cast<double>(links_.size() + fds_.size()))); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  static void* Run(void* self) {
    auto* c = static_cast<LinkCloser*>(self);
    const size_t nl = c->links_.size(), n = nl + c->fds_.size();
    for (size_t i; (i = c->next_++) < n;) {
      if (i < nl) bpf_link__destroy(c->links_[i]);
      else close(c->fds_[i - nl]);
    }
    return nullptr;
  }

  Napi::Promise::Deferred deferred_;
  std::vector<struct bpf_link*> links_;
  std::vector<int> fds_;
  struct bpf_object* obj_;
  std::atomic<size_t> next_{0};
};

// ---------------------------------------------------------------------------------------
class RingBuffer;

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "BpfObject",
                       {
                           InstanceMethod("setGlobal", &BpfObject::SetGlobal),
                           InstanceMethod("setAutoload", &BpfObject::SetAutoload),
                           InstanceMethod("setMaxEntries", &BpfObject::SetMaxEntries),
                           InstanceMethod("reuseMapsFrom", &BpfObject::ReuseMapsFrom),
                           InstanceMethod("load", &BpfObject::Load),
                           InstanceMethod("programs", &BpfObject::Programs),
                           InstanceMethod("maps", &BpfObject::Maps),
                           InstanceMethod("attachUprobe", &BpfObject::AttachUprobe),
                           InstanceMethod("attachTracepoint", &BpfObject::AttachTracepoint),
                           InstanceMethod("attachRawTracepoint", &BpfObject::AttachRawTracepoint),
                           InstanceMethod("attachKprobe", &BpfObject::AttachKprobe),
                           InstanceMethod("attach", &BpfObject::Attach),
                           InstanceMethod("linkId", &BpfObject::LinkId),
                           InstanceMethod("detach", &BpfObject::Detach),
                           InstanceMethod("detachAsync", &BpfObject::DetachAsync),
                           InstanceMethod("useUprobeMulti", &BpfObject::UseUprobeMulti),
                           InstanceMethod("attachUprobeMulti", &BpfObject::AttachUprobeMulti),
                           InstanceMethod("closeAsync", &BpfObject::CloseAsync),
                           InstanceMethod("readMap", &BpfObject::ReadMap),
                           InstanceMethod("readKeys", &BpfObject::ReadKeys),
                           InstanceMethod("updateElem", &BpfObject::UpdateElem),
                           InstanceMethod("deleteElem", &BpfObject::DeleteElem),
                           InstanceMethod("mapFd", &BpfObject::MapFd),
                           InstanceMethod("close", &BpfObject::Close),
                       });
  }

  explicit BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) {
      Napi::TypeError::New(env, "BpfObject(path): path must be a string").ThrowAsJavaScriptException();
      return;
    }
    path_ = info[0].As<Napi::String>().Utf8Value();
    ClearLog();
    obj_ = bpf_object__open_file(path_.c_str(), nullptr);
    if (!obj_) Fail(env, "open BPF object " + path_, errno);
  }

  ~BpfObject() override { Release(); }

  struct bpf_map* FindMap(Napi::Env env, const Napi::Value& v) {
    if (!Ready(env)) return nullptr;
    std::string name = v.As<Napi::String>().Utf8Value();
    struct bpf_map* m = bpf_object__find_map_by_name(obj_, name.c_str());
    if (!m) Fail(env, "no map named \"" + name + "\" in " + path_, ENOENT);
    return m;
  }

 private:
  struct bpf_object* obj_ = nullptr;
  std::string path_;
  bool loaded_ = false;
  std::map<int, struct bpf_link*> links_;
  // uprobe_multi links, created by raw syscall (libbpf 1.1 predates them): plain link fds.
  std::map<int, int> fd_links_;
  int next_link_ = 1;

  bool Ready(Napi::Env env) {
    if (!obj_) {
      Napi::Error::New(env, "BPF object " + path_ + " is closed").ThrowAsJavaScriptException();
      return false;
    }
    return true;
  }

  void Release() {
    for (auto& [id, link] : links_) bpf_link__destroy(link);
    links_.clear();
    for (auto& [id, fd] : fd_links_) close(fd);
    fd_links_.clear();
    if (obj_) bpf_object__close(obj_);
    obj_ = nullptr;
  }

  struct bpf_program* FindProg(Napi::Env env, const Napi::Value& v) {
    if (!Ready(env)) return nullptr;
    std::string name = v.As<Napi::String>().Utf8Value();
    struct bpf_program* p = bpf_object__find_program_by_name(obj_, name.c_str());
    if (!p) Fail(env, "no program named \"" + name + "\" in " + path_, ENOENT);
    return p;
  }

  Napi::Value Keep(Napi::Env env, struct bpf_link* link, const std::string& what) {
    if (!link) return Fail(env, what, errno);
    int id = next_link_++;
    links_[id] = link;
    return Napi::Number::New(env, id);
  }

  // setGlobal(name, buffer): writes a variable of .rodata/.data/.bss before load, found by
  // name in the object's BTF (e.g. a target pid, struct offsets for this Go version).
  Napi::Value SetGlobal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Ready(env)) return env.Undefined();
    if (loaded_) return Fail(env, "setGlobal after load", EBUSY);
    std::string name = info[0].As<Napi::String>().Utf8Value();
    auto buf = info[1].As<Napi::Buffer<uint8_t>>();
    struct btf* btf = bpf_object__btf(obj_);
    if (!btf) return Fail(env, "setGlobal " + name + ": object has no BTF (compile with -g)", ENOENT);
    const char* secs[] = {".rodata", ".data", ".bss"};
    for (const char* sec : secs) {
      int sec_id = btf__find_by_name_kind(btf, sec, BTF_KIND_DATASEC);
      if (sec_id < 0) continue;
      const struct btf_type* t = btf__type_by_id(btf, sec_id);
      const struct btf_var_secinfo* vs = btf_var_secinfos(t);
      for (int i = 0; i < btf_vlen(t); i++, vs++) {
        const struct btf_type* var = btf__type_by_id(btf, vs->type);
        if (name != btf__name_by_offset(btf, var->name_off)) continue;
        if (buf.Length() != vs->size)
          return Fail(env, "setGlobal " + name + ": size " + std::to_string(buf.Length()) + " != " + std::to_string(vs->size), EINVAL);
        struct bpf_map* m = nullptr;
        bpf_object__for_each_map(m, obj_) {
          const char* mn = bpf_map__name(m);
          size_t ml = strlen(mn), sl = strlen(sec);
          if (ml >= sl && strcmp(mn + ml - sl, sec) == 0) break;
        }
        if (!m) return Fail(env, std::string("setGlobal ") + name + ": no map for " + sec, ENOENT);
        size_t sz = 0;
        auto* data = static_cast<uint8_t*>(const_cast<void*>(bpf_map__initial_value(m, &sz)));
        if (!data || vs->offset + vs->size > sz) return Fail(env, "setGlobal " + name + ": no initial value", EINVAL);
        memcpy(data + vs->offset, buf.Data(), vs->size);
        return env.Undefined();
      }
    }
    return Fail(env, "setGlobal: no global variable named \"" + name + "\" in " + path_, ENOENT);
  }

  Napi::Value SetAutoload(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_program* p = FindProg(env, info[0]);
    if (!p) return env.Undefined();
    int err = bpf_program__set_autoload(p, info[1].As<Napi::Boolean>().Value());
    if (err) return Fail(env, "set autoload", err);
    return env.Undefined();
  }

  // Before load only: a map's size is fixed when the kernel creates it.
  Napi::Value SetMaxEntries(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_map* m = FindMap(env, info[0]);
    if (!m) return env.Undefined();
    int err = bpf_map__set_max_entries(m, info[1].As<Napi::Number>().Uint32Value());
    if (err) return Fail(env, "set max_entries", err);
    return env.Undefined();
  }

  // reuseMapsFrom(other), before load: every map of this object becomes the same kernel map
  // as the one of that name in `other` (loaded), except read-only data (.rodata*, .kconfig),
  // which stays this object's own. A copy of a program with different constants then shares
  // all state with the original — how a point's cookie is carried where the kernel has no
  // bpf_get_attach_cookie (before 5.15).
  Napi::Value ReuseMapsFrom(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Ready(env)) return env.Undefined();
    if (loaded_) return Fail(env, "reuseMapsFrom after load", EBUSY);
    BpfObject* other = Napi::ObjectWrap<BpfObject>::Unwrap(info[0].As<Napi::Object>());
    if (!other || !other->obj_ || !other->loaded_) return Fail(env, "reuseMapsFrom: the other object is not loaded", EINVAL);
    struct bpf_map* m = nullptr;
    bpf_object__for_each_map(m, obj_) {
      std::string name = bpf_map__name(m);
      if (name.find(".rodata") != std::string::npos || name.find(".kconfig") != std::string::npos) continue;
      struct bpf_map* theirs = bpf_object__find_map_by_name(other->obj_, name.c_str());
      if (!theirs) return Fail(env, "reuseMapsFrom: no map \"" + name + "\" in " + other->path_, ENOENT);
      int err = bpf_map__reuse_fd(m, bpf_map__fd(theirs));
      if (err) return Fail(env, "reuse map " + name, err);
    }
    return env.Undefined();
  }

  Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Ready(env)) return env.Undefined();
    ClearLog();
    int err = bpf_object__load(obj_);
    if (err) return Fail(env, "load BPF object " + path_, err);
    loaded_ = true;
    return env.Undefined();
  }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    if (!Ready(env)) return out;
    struct bpf_program* p = nullptr;
    uint32_t i = 0;
    bpf_object__for_each_program(p, obj_) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_program__name(p));
      o.Set("section", bpf_program__section_name(p));
      o.Set("fd", loaded_ ? bpf_program__fd(p) : -1);
      out.Set(i++, o);
    }
    return out;
  }

  Napi::Value Maps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    if (!Ready(env)) return out;
    struct bpf_map* m = nullptr;
    uint32_t i = 0;
    bpf_object__for_each_map(m, obj_) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_map__name(m));
      o.Set("type", libbpf_bpf_map_type_str(bpf_map__type(m)));
      o.Set("fd", loaded_ ? bpf_map__fd(m) : -1);
      o.Set("keySize", bpf_map__key_size(m));
      o.Set("valueSize", bpf_map__value_size(m));
      o.Set("valueStride", static_cast<double>(ValueStride(m)));
      o.Set("maxEntries", bpf_map__max_entries(m));
      o.Set("perCpu", IsPerCpu(bpf_map__type(m)));
      out.Set(i++, o);
    }
    return out;
  }

  // attachUprobe(prog, binaryPath, fileOffset, pid, cookie)
  Napi::Value AttachUprobe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_program* p = FindProg(env, info[0]);
    if (!p) return env.Undefined();
    std::string bin = info[1].As<Napi::String>().Utf8Value();
    size_t off = static_cast<size_t>(info[2].As<Napi::Number>().Int64Value());
    int pid = info[3].As<Napi::Number>().Int32Value();
    LIBBPF_OPTS(bpf_uprobe_opts, opts);
    opts.bpf_cookie = static_cast<uint64_t>(info[4].As<Napi::Number>().Int64Value());
    opts.retprobe = false;
    char where[64];
    snprintf(where, sizeof where, "+0x%zx (pid %d)", off, pid);
    return Keep(env, bpf_program__attach_uprobe_opts(p, pid, bin.c_str(), off, &opts), "attach uprobe at " + bin + where);
  }

  // useUprobeMulti(prog), before load: the program is loaded for uprobe_multi links (one link,
  // many offsets, released with one grace period instead of one per offset). It can then no
  // longer be attached as a single uprobe or kprobe.
  Napi::Value UseUprobeMulti(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_program* p = FindProg(env, info[0]);
    if (!p) return env.Undefined();
    int err = bpf_program__set_expected_attach_type(p, static_cast<enum bpf_attach_type>(kTraceUprobeMulti));
    if (err) return Fail(env, "set expected attach type uprobe_multi", err);
    return env.Undefined();
  }

  // attachUprobeMulti(prog, binary, [fileOffsets], [cookies], pid): one BPF_LINK_CREATE for all
  // offsets (kernel >= 6.6). pid <= 0: every process. Raw syscall: libbpf 1.1 has no wrapper.
  Napi::Value AttachUprobeMulti(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_program* p = FindProg(env, info[0]);
    if (!p) return env.Undefined();
    std::string bin = info[1].As<Napi::String>().Utf8Value();
    Napi::Array offs = info[2].As<Napi::Array>();
    Napi::Array cks = info[3].As<Napi::Array>();
    int pid = info[4].As<Napi::Number>().Int32Value();
    std::vector<uint64_t> offsets(offs.Length()), cookies(offs.Length());
    for (uint32_t i = 0; i < offs.Length(); i++) {
      offsets[i] = static_cast<uint64_t>(offs.Get(i).As<Napi::Number>().Int64Value());
      cookies[i] = static_cast<uint64_t>(cks.Get(i).As<Napi::Number>().Int64Value());
    }
    UprobeMultiLinkCreate attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_fd = static_cast<uint32_t>(bpf_program__fd(p));
    attr.attach_type = kTraceUprobeMulti;
    attr.path = reinterpret_cast<uint64_t>(bin.c_str());
    attr.offsets = reinterpret_cast<uint64_t>(offsets.data());
    attr.cookies = reinterpret_cast<uint64_t>(cookies.data());
    attr.cnt = static_cast<uint32_t>(offsets.size());
    attr.pid = pid > 0 ? static_cast<uint32_t>(pid) : 0;
    int fd = static_cast<int>(syscall(__NR_bpf, kBpfLinkCreate, &attr, sizeof attr));
    if (fd < 0) return Fail(env, "attach uprobe_multi at " + bin + " (" + std::to_string(offsets.size()) + " offsets)", errno);
    int id = next_link_++;
    fd_links_[id] = fd;
    return Napi::Number::New(env, id);
  }

  // attachTracepoint(prog, category, name, cookie): classic tracepoints, need tracefs.
  Napi::Value AttachTracepoint(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_program* p = FindProg(env, info[0]);
    if (!p) return env.Undefined();
    std::string cat = info[1].As<Napi::String>().Utf8Value();
    std::string name = info[2].As<Napi::String>().Utf8Value();
    LIBBPF_OPTS(bpf_tracepoint_opts, opts);
    opts.bpf_cookie = static_cast<uint64_t>(info[3].As<Napi::Number>().Int64Value());
    return Keep(env, bpf_program__attach_tracepoint_opts(p, cat.c_str(), name.c_str(), &opts), "attach tracepoint " + cat + ":" + name);
  }

  Napi::Value AttachRawTracepoint(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_program* p = FindProg(env, info[0]);
    if (!p) return env.Undefined();
    std::string name = info[1].As<Napi::String>().Utf8Value();
    return Keep(env, bpf_program__attach_raw_tracepoint(p, name.c_str()), "attach raw tracepoint " + name);
  }

  // attachKprobe(prog, function, retprobe, cookie)
  Napi::Value AttachKprobe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_program* p = FindProg(env, info[0]);
    if (!p) return env.Undefined();
    std::string fn = info[1].As<Napi::String>().Utf8Value();
    LIBBPF_OPTS(bpf_kprobe_opts, opts);
    opts.retprobe = info[2].As<Napi::Boolean>().Value();
    opts.bpf_cookie = static_cast<uint64_t>(info[3].As<Napi::Number>().Int64Value());
    return Keep(env, bpf_program__attach_kprobe_opts(p, fn.c_str(), &opts), std::string("attach ") + (opts.retprobe ? "kretprobe " : "kprobe ") + fn);
  }

  // attach(prog): as the SEC() name says (tp_btf/..., raw_tp/..., tp/cat/name).
  Napi::Value Attach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_program* p = FindProg(env, info[0]);
    if (!p) return env.Undefined();
    return Keep(env, bpf_program__attach(p), std::string("attach ") + bpf_program__section_name(p));
  }

  Napi::Value LinkId(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int id = info[0].As<Napi::Number>().Int32Value();
    auto it = links_.find(id);
    auto fit = fd_links_.find(id);
    if (it == links_.end() && fit == fd_links_.end()) return Fail(env, "linkId: unknown link", ENOENT);
    struct bpf_link_info li;
    memset(&li, 0, sizeof li);
    uint32_t len = sizeof li;
    int fd = it != links_.end() ? bpf_link__fd(it->second) : fit->second;
    // Uprobes/tracepoints on kernels without BPF perf links are plain perf events: no link id.
    if (fd < 0 || bpf_obj_get_info_by_fd(fd, &li, &len) != 0) return Napi::Number::New(env, 0);
    return Napi::Number::New(env, li.id);
  }

  Napi::Value Detach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto it = links_.find(info[0].As<Napi::Number>().Int32Value());
    if (it == links_.end()) return Napi::Boolean::New(env, false);
    int err = bpf_link__destroy(it->second);
    links_.erase(it);
    if (err) return Fail(env, "detach", err);
    return Napi::Boolean::New(env, true);
  }

  // readMap(name, allowBatch = true) -> { count, keys: Buffer, values: Buffer, keySize, valueStride, batched }.
  // One JS call for the whole map; per-CPU values come as nCpus consecutive slots.
  Napi::Value ReadMap(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_map* m = FindMap(env, info[0]);
    if (!m) return env.Undefined();
    size_t ks = bpf_map__key_size(m), stride = ValueStride(m);
    std::vector<uint8_t> keys, values;
    size_t count = 0;
    bool batched = ReadEntries(m, info.Length() < 2 || info[1].ToBoolean().Value(), true, keys, values, count);
    Napi::Object out = Napi::Object::New(env);
    out.Set("count", static_cast<double>(count));
    out.Set("keySize", static_cast<double>(ks));
    out.Set("valueStride", static_cast<double>(stride));
    out.Set("cpus", PossibleCpus());
    out.Set("batched", batched);
    out.Set("keys", Napi::Buffer<uint8_t>::Copy(env, keys.data(), count * ks));
    out.Set("values", Napi::Buffer<uint8_t>::Copy(env, values.data(), count * stride));
    return out;
  }

  // readKeys(name, allowBatch = true) -> { count, keySize, keys: Buffer }: for sweeps that only
  // look at keys (entries of exited processes): no values copied out to JS.
  Napi::Value ReadKeys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_map* m = FindMap(env, info[0]);
    if (!m) return env.Undefined();
    size_t ks = bpf_map__key_size(m);
    std::vector<uint8_t> keys, values;
    size_t count = 0;
    ReadEntries(m, info.Length() < 2 || info[1].ToBoolean().Value(), false, keys, values, count);
    Napi::Object out = Napi::Object::New(env);
    out.Set("count", static_cast<double>(count));
    out.Set("keySize", static_cast<double>(ks));
    out.Set("keys", Napi::Buffer<uint8_t>::Copy(env, keys.data(), count * ks));
    return out;
  }

  // Every entry of a map: BPF_MAP_LOOKUP_BATCH where allowed and the kernel has it (true back),
  // else entry by entry — get_next_key, plus a lookup when values are wanted (kernels < 5.6).
  bool ReadEntries(struct bpf_map* m, bool allow, bool withValues, std::vector<uint8_t>& keys, std::vector<uint8_t>& values,
                   size_t& count) {
    int fd = bpf_map__fd(m);
    size_t ks = bpf_map__key_size(m), stride = ValueStride(m), max = bpf_map__max_entries(m);
    if (allow && !no_batch_.count(fd) && ReadBatched(fd, ks, stride, max, keys, values, count, withValues)) return true;
    if (allow) no_batch_.insert(fd);
    keys.clear();
    values.clear();
    count = 0;
    std::vector<uint8_t> key(ks), next(ks), val(stride);
    void* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
      if (!withValues || bpf_map_lookup_elem(fd, next.data(), val.data()) == 0) {
        keys.insert(keys.end(), next.begin(), next.end());
        if (withValues) values.insert(values.end(), val.begin(), val.end());
        count++;
      }
      key.swap(next);
      prev = key.data();
      if (count > max) break;  // a hash map mutating under us: stop
    }
    return false;
  }

  // Maps (by fd) whose kernel refused BPF_MAP_LOOKUP_BATCH once: not asked again.
  std::set<int> no_batch_;

  // BPF_MAP_LOOKUP_BATCH (5.6+): a chunk of entries per syscall. False when the kernel or map
  // type has no batch lookup, so the caller iterates instead.
  // Without keepValues, values land in one chunk-sized buffer, overwritten chunk by chunk.
  static bool ReadBatched(int fd, size_t ks, size_t stride, size_t max_entries, std::vector<uint8_t>& keys,
                          std::vector<uint8_t>& values, size_t& count, bool keepValues) {
    DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
    // The batch token is a bucket index for hash maps and a key for arrays: room for either.
    std::vector<uint8_t> in(std::max<size_t>(ks, 8)), out(std::max<size_t>(ks, 8));
    size_t chunk = std::min<size_t>(std::max<size_t>(max_entries, 1), 256);
    bool first = true;
    for (;;) {
      keys.resize((count + chunk) * ks);
      values.resize((keepValues ? count + chunk : chunk) * stride);
      __u32 n = chunk;
      int err = bpf_map_lookup_batch(fd, first ? nullptr : in.data(), out.data(), keys.data() + count * ks,
                                     values.data() + (keepValues ? count * stride : 0), &n, &opts);
      int e = err ? errno : 0;
      if (err && e == ENOSPC && n == 0) {
        chunk *= 2;  // one hash bucket holds more entries than a chunk: ask for more at once
        continue;
      }
      if (err && e != ENOENT) return false;
      count += n;
      if (e == ENOENT || count >= max_entries) return true;
      in.swap(out);
      first = false;
    }
  }

  Napi::Value UpdateElem(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_map* m = FindMap(env, info[0]);
    if (!m) return env.Undefined();
    auto k = info[1].As<Napi::Buffer<uint8_t>>();
    auto v = info[2].As<Napi::Buffer<uint8_t>>();
    if (k.Length() != bpf_map__key_size(m) || v.Length() != ValueStride(m))
      return Fail(env, std::string("update ") + bpf_map__name(m) + ": key/value size mismatch", EINVAL);
    if (bpf_map_update_elem(bpf_map__fd(m), k.Data(), v.Data(), BPF_ANY) != 0)
      return Fail(env, std::string("update ") + bpf_map__name(m), errno);
    return env.Undefined();
  }

  Napi::Value DeleteElem(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_map* m = FindMap(env, info[0]);
    if (!m) return env.Undefined();
    auto k = info[1].As<Napi::Buffer<uint8_t>>();
    if (k.Length() != bpf_map__key_size(m)) return Fail(env, "delete: key size mismatch", EINVAL);
    bool ok = bpf_map_delete_elem(bpf_map__fd(m), k.Data()) == 0;
    return Napi::Boolean::New(env, ok);
  }

  Napi::Value MapFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_map* m = FindMap(env, info[0]);
    if (!m) return env.Undefined();
    return Napi::Number::New(env, bpf_map__fd(m));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  // detachAsync([ids]): the links leave this object now; the kernel lets go of them on worker
  // threads. Resolves with how many were closed.
  Napi::Value DetachAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array ids = info[0].As<Napi::Array>();
    std::vector<struct bpf_link*> links;
    std::vector<int> fds;
    for (uint32_t i = 0; i < ids.Length(); i++) {
      int id = ids.Get(i).As<Napi::Number>().Int32Value();
      if (auto it = links_.find(id); it != links_.end()) {
        links.push_back(it->second);
        links_.erase(it);
      } else if (auto fit = fd_links_.find(id); fit != fd_links_.end()) {
        fds.push_back(fit->second);
        fd_links_.erase(fit);
      }
    }
    auto* w = new LinkCloser(env, std::move(links), std::move(fds), nullptr);
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }

  // closeAsync(): like close(), but the links and then the object are released off the main
  // thread. The object is closed for JS at once.
  Napi::Value CloseAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<struct bpf_link*> links;
    std::vector<int> fds;
    for (auto& [id, link] : links_) links.push_back(link);
    for (auto& [id, fd] : fd_links_) fds.push_back(fd);
    links_.clear();
    fd_links_.clear();
    auto* w = new LinkCloser(env, std::move(links), std::move(fds), obj_);
    obj_ = nullptr;
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }
};

// ---------------------------------------------------------------------------------------
// RingBuffer(object, mapName, callback): the map's epoll fd is watched by libuv; on each
// wakeup every pending record is consumed and handed to JS in ONE call as a Buffer of
// [u32 length][record][pad to 8] entries, so per-record JS overhead stays out of the loop.
class RingBuffer : public Napi::ObjectWrap<RingBuffer> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "RingBuffer", {InstanceMethod("close", &RingBuffer::Close), InstanceMethod("drain", &RingBuffer::Drain)});
  }

  explicit RingBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBuffer>(info) {
    Napi::Env env = info.Env();
    BpfObject* obj = Napi::ObjectWrap<BpfObject>::Unwrap(info[0].As<Napi::Object>());
    struct bpf_map* m = obj->FindMap(env, info[1]);
    if (!m) return;
    owner_ = Napi::Persistent(info[0].As<Napi::Object>());
    callback_ = Napi::Persistent(info[2].As<Napi::Function>());
    rb_ = ring_buffer__new(bpf_map__fd(m), &RingBuffer::OnRecord, this, nullptr);
    if (!rb_) {
      Fail(env, "open ring buffer", errno);
      return;
    }
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    poll_->data = this;
    uv_poll_init(loop, poll_, ring_buffer__epoll_fd(rb_));
    uv_poll_start(poll_, UV_READABLE, &RingBuffer::OnReadable);
    env_ = env;
  }

  ~RingBuffer() override { Stop(); }

 private:
  struct ring_buffer* rb_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  Napi::Env env_ = nullptr;
  Napi::ObjectReference owner_;
  Napi::FunctionReference callback_;
  std::vector<uint8_t> pending_;

  static int OnRecord(void* ctx, void* data, size_t size) {
    auto* self = static_cast<RingBuffer*>(ctx);
    uint32_t len = static_cast<uint32_t>(size);
    auto& p = self->pending_;
    size_t at = p.size();
    p.resize(at + 4 + ((size + 7) & ~size_t(7)) + 4);
    memcpy(p.data() + at, &len, 4);
    memcpy(p.data() + at + 4, data, size);
    p.resize(at + 4 + size + ((8 - ((4 + size) % 8)) % 8));
    return 0;
  }

  static void OnReadable(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<RingBuffer*>(handle->data);
    if (status < 0 || !self->rb_) return;
    Napi::HandleScope scope(self->env_);
    self->Deliver();
  }

  int Deliver() {
    int n = ring_buffer__consume(rb_);
    if (pending_.empty()) return n;
    Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::Copy(env_, pending_.data(), pending_.size());
    pending_.clear();
    // MakeCallback so promise jobs and async hooks run as for any I/O callback.
    callback_.MakeCallback(Value(), {buf});
    return n;
  }

  void Stop() {
    if (poll_) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (rb_) ring_buffer__free(rb_);
    rb_ = nullptr;
    if (!owner_.IsEmpty()) owner_.Reset();
    if (!callback_.IsEmpty()) callback_.Reset();
  }

  // drain(): consume synchronously (before close, so nothing buffered is lost).
  Napi::Value Drain(const Napi::CallbackInfo& info) {
    if (!rb_) return Napi::Number::New(info.Env(), 0);
    return Napi::Number::New(info.Env(), Deliver());
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }
};

Napi::Value TakeLog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(g_log_mu);
  Napi::Array out = Napi::Array::New(env, g_log.size());
  for (size_t i = 0; i < g_log.size(); i++) out.Set(i, g_log[i]);
  g_log.clear();
  return out;
}

Napi::Value NumPossibleCpus(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), PossibleCpus()); }

Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), std::to_string(libbpf_major_version()) + "." + std::to_string(libbpf_minor_version()));
}

// probeSupport(kind): whether the kernel has a program type / map type (for `doctor`).
Napi::Value ProbeProgType(const Napi::CallbackInfo& info) {
  int t = info[0].As<Napi::Number>().Int32Value();
  int r = libbpf_probe_bpf_prog_type(static_cast<enum bpf_prog_type>(t), nullptr);
  return Napi::Number::New(info.Env(), r);
}

Napi::Value ProbeMapType(const Napi::CallbackInfo& info) {
  int t = info[0].As<Napi::Number>().Int32Value();
  int r = libbpf_probe_bpf_map_type(static_cast<enum bpf_map_type>(t), nullptr);
  return Napi::Number::New(info.Env(), r);
}

// probeHelper(progType, helperId): whether programs of that type may call that helper here.
Napi::Value ProbeHelper(const Napi::CallbackInfo& info) {
  int t = info[0].As<Napi::Number>().Int32Value();
  int h = info[1].As<Napi::Number>().Int32Value();
  int r = libbpf_probe_bpf_helper(static_cast<enum bpf_prog_type>(t), static_cast<enum bpf_func_id>(h), nullptr);
  return Napi::Number::New(info.Env(), r);
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  probeflow::InitProcessMemory(env, exports);
  libbpf_set_print(LibbpfPrint);
  libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
  exports.Set("BpfObject", BpfObject::Init(env));
  exports.Set("RingBuffer", RingBuffer::Init(env));
  exports.Set("takeLog", Napi::Function::New(env, TakeLog));
  exports.Set("possibleCpus", Napi::Function::New(env, NumPossibleCpus));
  exports.Set("libbpfVersion", Napi::Function::New(env, LibbpfVersion));
  exports.Set("probeProgType", Napi::Function::New(env, ProbeProgType));
  exports.Set("probeMapType", Napi::Function::New(env, ProbeMapType));
  exports.Set("probeHelper", Napi::Function::New(env, ProbeHelper));
  return exports;
}

}  // namespace

NODE_API_MODULE(probeflow_bpf, InitModule)
