{
  "targets": [
    {
      "target_name": "probeflow_bpf",
      "sources": ["native/probeflow_bpf.cc", "native/process_memory.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wno-missing-field-initializers"],
      "libraries": ["-lbpf"]
    },
    {
      "target_name": "probeflow_text",
      "sources": ["native/exposition_text.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall"]
    }
  ]
}
