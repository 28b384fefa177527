"""Multi-head softmax attention written with plain loops, to check the memories' read-outs against."""

import math

import torch


def manual_attention(queries, tokens, key, value, heads):
    batch, _, width = queries.shape
    d = width // heads
    k, v = key(tokens), value(tokens)
    out = torch.zeros_like(queries)
    for b in range(batch):
        for h in range(heads):
            cols = slice(h * d, (h + 1) * d)
            weights = torch.softmax(queries[b, :, cols] @ k[b, :, cols].T / math.sqrt(d), dim=-1)
            out[b, :, cols] = weights @ v[b, :, cols]
    return out
