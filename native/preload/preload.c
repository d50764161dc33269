/* The preload shim: a Node-API addon with no libtorch dependency that loads shared libraries by
 * path (dlopen), so that a prebuilt noisynn addon finds the libtorch of this machine (a PyTorch
 * install at any path) already loaded under the sonames it needs. lib/native-loader.ts uses it. */
#include <dlfcn.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

/* preload(path: string): true, or throws an Error with dlerror()'s text. The library stays
 * loaded for the life of the process (the handle is never closed); RTLD_LOCAL: later loads find it by
 * its soname without its symbols joining the global scope. */
static napi_value Preload(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value result;
  size_t length = 0;
  char* path;
  void* handle;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], NULL, 0, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "Expected string for path");
    return NULL;
  }
  path = malloc(length + 1);
  if (path == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], path, length + 1, &length);
  handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  free(path);
  if (handle == NULL) {
    const char* why = dlerror();
    napi_throw_error(env, NULL, why != NULL ? why : "dlopen failed");
    return NULL;
  }
  napi_get_boolean(env, 1, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "preload", NAPI_AUTO_LENGTH, Preload, NULL, &fn);
  napi_set_named_property(env, exports, "preload", fn);
  return exports;
}
