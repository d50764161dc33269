// NoisyNN noise over the global batch of data-parallel ranks: each kind mixes (or draws) as one
// process holding the whole batch in DistributedSampler's order would, through differentiable
// collectives. Rank r's local sample j is sample j * W + r of the global batch.
//
//   optimal     all-reduce of the batch sum (and of the gradient's batch sum in backward)
//   linear      each sample's global successor: the same local sample of rank r + 1 (sample j + 1
//               of rank 0 for the last rank), a send/recv of the neighbour's tensor each way
//   saltPepper  all-reduce of max and min; the mask drawn by global element index (no traffic)
//   gaussian    drawn by global element index (no traffic)
#pragma once

#include <ATen/ATen.h>

#include <memory>

#include "distributed/group.h"
#include "ops/noise.h"

namespace noisynn {
namespace dist {

// The noise of `p` on x (its axis and offset already set, the offset shared by all ranks) over the
// group's global batch. `x`'s dim 0 is the local batch, of equal size on every rank.
at::Tensor inject_noise_global(const at::Tensor& x, const NoiseParams& p, const std::shared_ptr<Group>& group);

// {max, min} of x over every rank ([2], x's dtype and device); NaN anywhere makes both NaN.
at::Tensor global_extremes(const at::Tensor& x, Group& group);

}  // namespace dist
}  // namespace noisynn
