# node-gyp build of the addon (what prebuildify and the node-gyp-build install fallback run).
# Sources come from native/sources.txt, like CMakeLists.txt; libtorch from scripts/torch-config.js
# (Debian's libtorch-dev by default, $LIBTORCH otherwise). CUDA builds use CMakeLists.txt.
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
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O3", "-fno-math-errno", "-ffp-contract=off", "-Wno-unused-parameter", "-Wno-sign-compare", "<!@(node scripts/torch-config.js cflags)"],
      "ldflags": ["<!@(node scripts/torch-config.js ldflags)"],
      "libraries": ["<!@(node scripts/torch-config.js libs)", "-lz"]
    }
  ]
}
