# Prepares find_package(Torch) for a libtorch outside the system prefix (a libtorch folder or a
# PyTorch install): checks its version, pins its libraries, and for a CUDA build finds an nvcc of
# the same CUDA major, including the pip layout (site-packages/nvidia/cu13/{bin,include,lib}).
#
# Why each step:
# - TorchConfig.cmake looks its libraries up with find_library(... PATHS <prefix>/lib) and its
#   Caffe2 targets up with find_dependency(Caffe2 PATHS ...), both of which search the system
#   first: with Debian's libtorch-dev installed they would link /usr/lib's libtorch 1.13 against
#   the other libtorch's headers.
# - Caffe2's cuda.cmake needs a CUDA toolkit laid out as the installer lays it out (lib64 or lib
#   with unversioned libcudart.so, ...). The pip wheels ship nvcc, headers and the versioned
#   libraries only, so a shim folder of links in the build tree supplies that layout.
# - cuda.cmake sets CMAKE_CUDA_STANDARD to the C++ standard (20), which CMake 3.25 cannot pass to
#   nvcc; the kernels are C++17.
include_guard(GLOBAL)

function(noisynn_prepare_torch prefix)
  set(version_file "${prefix}/share/cmake/Torch/TorchConfigVersion.cmake")
  if(EXISTS "${version_file}")
    file(STRINGS "${version_file}" line REGEX "set\\(PACKAGE_VERSION \"")
    string(REGEX MATCH "[0-9]+\\.[0-9]+(\\.[0-9]+)?" found "${line}")
    if(found AND found VERSION_LESS NOISYNN_MIN_TORCH)
      message(FATAL_ERROR "noisynn: the libtorch at ${prefix} is version ${found}, too old: noisynn-native needs "
                          "libtorch ${NOISYNN_MIN_TORCH} or newer (Debian's libtorch-dev 1.13, or PyTorch 2.x)")
    endif()
  endif()
  if(prefix MATCHES "^/usr/?$")
    return()
  endif()

  # Cached finds from another libtorch would survive a change of prefix: forget them.
  set(pinned Caffe2_DIR torch_LIBRARY torch_cpu_LIBRARY torch_cuda_LIBRARY c10_LIBRARY c10_cuda_LIBRARY kineto_LIBRARY TORCH_LIBRARY
             C10_CUDA_LIBRARY CUDA_TOOLKIT_ROOT_DIR CUDAToolkit_ROOT CMAKE_CUDA_COMPILER)
  if(NOT NOISYNN_TORCH_PREFIX_USED STREQUAL prefix)
    foreach(var IN LISTS pinned)
      unset(${var} CACHE)
    endforeach()
    set(NOISYNN_TORCH_PREFIX_USED "${prefix}" CACHE INTERNAL "")
  endif()
  foreach(name torch torch_cpu torch_cuda c10 c10_cuda kineto)
    find_library(${name}_LIBRARY ${name} PATHS "${prefix}/lib" NO_DEFAULT_PATH)
  endforeach()
  # TorchConfig finds Caffe2 (the imported torch, torch_cpu, ... targets) with find_dependency,
  # whose default search would take Debian's /usr/lib/<arch>/cmake/Caffe2 first.
  set(Caffe2_DIR "${prefix}/share/cmake/Caffe2" CACHE PATH "Caffe2 config of ${prefix}" FORCE)
  set(TORCH_LIBRARY "${torch_LIBRARY}" CACHE FILEPATH "libtorch of ${prefix}")
  if(c10_cuda_LIBRARY)
    set(C10_CUDA_LIBRARY "${c10_cuda_LIBRARY}" CACHE FILEPATH "libc10_cuda of ${prefix}")
  endif()

  if(NOT EXISTS "${prefix}/lib/libtorch_cuda.so")
    return()
  endif()
  # A CUDA libtorch: torch's own CUDA version (PyTorch installs record it in version.py).
  set(torch_cuda "")
  if(EXISTS "${prefix}/version.py")
    file(STRINGS "${prefix}/version.py" line REGEX "^cuda")
    string(REGEX MATCH "[0-9]+\\.[0-9]+" torch_cuda "${line}")
  endif()
  set(wheel_hint "pip install 'cuda-toolkit[nvcc]==${torch_cuda}.*' into the Python environment of that torch")
  if(NOT torch_cuda)
    set(wheel_hint "install the CUDA toolkit of the CUDA version that libtorch was built with")
  endif()

  # nvcc: CMAKE_CUDA_COMPILER, CUDA_HOME, the pip wheel next to this torch, PATH, /usr/local/cuda.
  set(nvcc "")
  if(CMAKE_CUDA_COMPILER)
    set(nvcc "${CMAKE_CUDA_COMPILER}")
  elseif(DEFINED ENV{CUDA_HOME} AND EXISTS "$ENV{CUDA_HOME}/bin/nvcc")
    set(nvcc "$ENV{CUDA_HOME}/bin/nvcc")
  else()
    file(GLOB wheel_nvcc "${prefix}/../nvidia/cu*/bin/nvcc")
    if(wheel_nvcc)
      list(GET wheel_nvcc 0 nvcc)
    else()
      find_program(path_nvcc nvcc PATHS /usr/local/cuda/bin NO_CACHE)
      if(path_nvcc)
        set(nvcc "${path_nvcc}")
      endif()
    endif()
  endif()
  if(NOT nvcc)
    message(FATAL_ERROR "noisynn: the libtorch at ${prefix} is a CUDA build (CUDA ${torch_cuda}); compiling the CUDA "
                        "kernels needs nvcc of the same CUDA major, and none was found (CUDA_HOME, PATH, "
                        "/usr/local/cuda, the nvidia wheels next to torch). To get one: ${wheel_hint}; or set "
                        "CUDA_HOME to a CUDA toolkit.")
  endif()
  get_filename_component(nvcc "${nvcc}" REALPATH)
  execute_process(COMMAND "${nvcc}" --version OUTPUT_VARIABLE nvcc_out RESULT_VARIABLE rc)
  string(REGEX MATCH "release ([0-9]+)\\.([0-9]+)" _ "${nvcc_out}")
  set(nvcc_major "${CMAKE_MATCH_1}")
  set(nvcc_version "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}")
  if(NOT rc EQUAL 0 OR NOT nvcc_major)
    message(FATAL_ERROR "noisynn: ${nvcc} --version failed: ${nvcc_out}")
  endif()
  if(torch_cuda)
    string(REGEX MATCH "^[0-9]+" torch_major "${torch_cuda}")
    if(NOT torch_major EQUAL nvcc_major)
      message(FATAL_ERROR "noisynn: ${nvcc} is CUDA ${nvcc_version}, but the libtorch at ${prefix} was built with CUDA "
                          "${torch_cuda}; the kernels need an nvcc of CUDA ${torch_major}.x: ${wheel_hint}.")
    endif()
  endif()

  get_filename_component(toolkit "${nvcc}/../.." ABSOLUTE)
  set(runtime_dir "")
  foreach(dir lib64 lib)
    file(GLOB cudart "${toolkit}/${dir}/libcudart.so*")
    if(cudart AND NOT runtime_dir)
      set(runtime_dir "${toolkit}/${dir}")
    endif()
  endforeach()
  if(NOT runtime_dir)
    message(FATAL_ERROR "noisynn: no libcudart.so next to ${nvcc} (looked in ${toolkit}/lib64 and ${toolkit}/lib); "
                        "${wheel_hint}")
  endif()
  if(NOT EXISTS "${runtime_dir}/libcudart.so")
    # The pip layout: link the toolkit's folders into a shim with the installer's names.
    set(shim "${CMAKE_BINARY_DIR}/cuda-toolkit")
    file(MAKE_DIRECTORY "${shim}/lib")
    foreach(item bin include nvvm)
      if(EXISTS "${toolkit}/${item}" AND NOT EXISTS "${shim}/${item}")
        file(CREATE_LINK "${toolkit}/${item}" "${shim}/${item}" SYMBOLIC)
      endif()
    endforeach()
    file(GLOB libs RELATIVE "${runtime_dir}" "${runtime_dir}/lib*.so*" "${runtime_dir}/lib*.a")
    foreach(lib IN LISTS libs)
      string(REGEX REPLACE "\\.so\\..*$" ".so" plain "${lib}")
      foreach(name "${lib}" "${plain}")
        if(NOT EXISTS "${shim}/lib/${name}")
          file(CREATE_LINK "${runtime_dir}/${lib}" "${shim}/lib/${name}" SYMBOLIC)
        endif()
      endforeach()
    endforeach()
    if(NOT EXISTS "${shim}/lib64")
      file(CREATE_LINK "${shim}/lib" "${shim}/lib64" SYMBOLIC)
    endif()
    set(toolkit "${shim}")
  endif()

  set(ENV{CUDA_HOME} "${toolkit}")
  set(ENV{PATH} "${toolkit}/bin:$ENV{PATH}")
  set(CUDA_TOOLKIT_ROOT_DIR "${toolkit}" CACHE PATH "CUDA toolkit for the noisynn kernels")
  set(CUDAToolkit_ROOT "${toolkit}" CACHE PATH "CUDA toolkit for the noisynn kernels")
  set(CMAKE_CUDA_COMPILER "${toolkit}/bin/nvcc" CACHE FILEPATH "nvcc for the noisynn kernels")
  # Caffe2 probes the local GPUs when no architecture list is given; the kernels' own list is
  # CMAKE_CUDA_ARCHITECTURES (CMakeLists.txt).
  if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
    set(TORCH_CUDA_ARCH_LIST "8.0;9.0" CACHE STRING "")
  endif()
  set(CMAKE_CUDA_STANDARD 17 PARENT_SCOPE)
  # Where the CUDA runtime that libtorch_cuda loads lives: the addon's RUNPATH names it.
  set(NOISYNN_CUDA_RUNTIME_DIR "${runtime_dir}" PARENT_SCOPE)
  message(STATUS "noisynn: nvcc ${nvcc_version} (${nvcc}) for a libtorch built with CUDA ${torch_cuda}")
endfunction()
