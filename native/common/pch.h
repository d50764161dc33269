// Precompiled header: libtorch's headers are most of every translation unit's compile time.
#pragma once

#include <torch/torch.h>
