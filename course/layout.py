"""NumPy <-> torch.nn weight layout.

The course's NumPy layout (batch first, row vectors):  a = x @ Wx + h @ Wh + b  with
    Wx (D, G*H), Wh (H, G*H), b (G*H,)
torch.nn.RNN / LSTM / GRU store the transposes and two biases:
    weight_ih_l0 = Wx.T (G*H, D), weight_hh_l0 = Wh.T (G*H, H), bias_ih_l0 + bias_hh_l0 = b
with the gate blocks in the same order (LSTM i, f, g, o; GRU r, z, n), so no block reordering is
needed. Exception: torch's GRU multiplies bias_hh's n block by the reset gate, so for the GRU's n
block only the split of b between the two biases matters (pass `bias_hh` explicitly).
"""
import numpy as np


def to_torch_state(Wx, Wh, b, bias_hh=None, suffix="_l0"):
    """A state dict for nn.RNN/LSTM/GRU (one layer) from NumPy weights; bias_hh defaults to zeros."""
    import torch

    b = np.asarray(b)
    bias_hh = np.zeros_like(b) if bias_hh is None else np.asarray(bias_hh)
    as_tensor = lambda a: torch.tensor(np.ascontiguousarray(a))  # noqa: E731
    return {
        f"weight_ih{suffix}": as_tensor(np.asarray(Wx).T),
        f"weight_hh{suffix}": as_tensor(np.asarray(Wh).T),
        f"bias_ih{suffix}": as_tensor(b - bias_hh),
        f"bias_hh{suffix}": as_tensor(bias_hh),
    }


def load_numpy_weights(module, Wx, Wh, b, bias_hh=None, suffix="_l0"):
    """Copy NumPy weights into a torch.nn recurrent module (in place; dtype follows the module)."""
    import torch

    state = to_torch_state(Wx, Wh, b, bias_hh, suffix)
    with torch.no_grad():
        for name, value in state.items():
            getattr(module, name).copy_(value)
    return module


def from_torch(module, suffix="_l0"):
    """(Wx, Wh, b) as float64 NumPy arrays from a torch.nn recurrent module."""
    get = lambda name: getattr(module, name + suffix).detach().cpu().double().numpy()  # noqa: E731
    return get("weight_ih").T.copy(), get("weight_hh").T.copy(), get("bias_ih") + get("bias_hh")
