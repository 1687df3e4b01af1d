"""Lesson 1 (sequences): the wrong answers its checks name, shared by the visible and the hidden checks.

Each function returns (candidate, text) pairs for course.check_close(..., mistakes=...) and for the
hidden checks' expect_close(..., mistakes=...): a candidate computes, with torch.nn.functional, what a
function with that classic mistake returns, so both kinds of check name it in the same words.
No solution code lives here.
"""

def cross_entropy_mistakes(logits, targets, pad_id, grad=False):
    """Classic mistakes of a masked mean cross-entropy over logits (N, T, V) and targets (N, T): the
    loss they give, or its gradient with respect to logits when grad=True."""
    import torch
    import torch.nn.functional as F

    logits = torch.as_tensor(logits).detach()
    targets = torch.as_tensor(targets).to(logits.device)

    def of(loss_fn):
        def make():
            x = logits.clone().requires_grad_(grad)
            loss = loss_fn(x.reshape(-1, x.shape[-1]), targets.reshape(-1))
            return (torch.autograd.grad(loss, x)[0] if grad else loss.detach()).cpu()
        return make

    mistakes = [
        (of(lambda x, y: F.cross_entropy(x, y)),
         "the mask is ignored: padded positions count in your loss. Keep only the positions where "
         "targets != pad_id, and average over those."),
        (of(lambda x, y: F.cross_entropy(x, y, ignore_index=pad_id, reduction="sum") / y.numel()),
         "average over the unmasked positions only (divide by the mask's sum, not N*T)."),
        (of(lambda x, y: F.cross_entropy(x, y, ignore_index=pad_id, reduction="sum")),
         "you returned the sum over the real positions; return their mean."),
    ]
    if pad_id != 0:
        mistakes.append((of(lambda x, y: F.cross_entropy(x, y, ignore_index=0)),
                         "the ignored positions are those equal to the pad_id argument (here not 0)."))
    return mistakes
