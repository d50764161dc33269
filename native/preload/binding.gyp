# The preload shim (preload.c): Node-API only, no libtorch. scripts/prebuild.sh builds it into
# prebuilds/<platform>-<arch>/preload/ beside the flavoured addons.
{
  "targets": [
    {
      "target_name": "noisynn_preload",
      "sources": ["preload.c"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-ldl"]
    }
  ]
}
