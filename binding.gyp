# node-gyp build of the addon (what prebuildify and the node-gyp-build install fallback run).
# Sources come from native/sources.txt, like CMakeLists.txt; libtorch from scripts/torch-config.js
# (Debian's libtorch-dev by default, $LIBTORCH otherwise). When that libtorch carries CUDA, the
# [cuda] sources are added: .cu files through an nvcc rule (CUDA toolkit from $CUDA_HOME or PATH,
# architectures from $TORCH_CUDA_ARCH_LIST), the rest with the C++ compiler. C++20 as in
# CMakeLists.txt: recent PyTorch releases' headers require it. The experimental
# Node-API version as in CMakeLists.txt: finalizers run inside the GC, so undisposed tensors free
# their memory there.
{
  "targets": [
    {
      "target_name": "noisynn",
      "sources": ["<!@(node scripts/sources.js core addon)"],
      "include_dirs": [
        "native",
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/torch-config.js include)"
      ],
      "defines": ["NAPI_EXPERIMENTAL", "NAPI_VERSION=2147483647", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NOISYNN_HAVE_ZLIB=1"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14"],
      "cflags_cc": ["-std=gnu++20", "-fexceptions", "-frtti", "-O3", "-fno-math-errno", "-ffp-contract=off", "-Wno-unused-parameter", "-Wno-sign-compare", "<!@(node scripts/torch-config.js cflags)"],
      "ldflags": ["<!@(node scripts/torch-config.js ldflags)"],
      "libraries": ["<!@(node scripts/torch-config.js libs)", "-lz"],
      "conditions": [
        ["'<!(node scripts/torch-config.js cuda)'=='1'", {
          "sources": ["<!@(node scripts/sources.js cuda)"],
          "include_dirs": ["<!@(node scripts/torch-config.js cuda-include)"],
          "rules": [
            {
              "rule_name": "nvcc",
              "extension": "cu",
              "inputs": ["<(RULE_INPUT_PATH)"],
              "outputs": ["<(INTERMEDIATE_DIR)/<(RULE_INPUT_ROOT).cu.o"],
              "action": ["<!@(node scripts/torch-config.js nvcc)", "<!@(node scripts/torch-config.js nvcc-flags)", "-c", "<(RULE_INPUT_PATH)", "-o", "<(INTERMEDIATE_DIR)/<(RULE_INPUT_ROOT).cu.o"],
              "message": "nvcc <(RULE_INPUT_PATH)",
              "process_outputs_as_sources": 1
            }
          ]
        }]
      ]
    }
  ]
}
