"""What every kerasbio subpackage shares, so that none imports another package's private module.

`validation` (argument checks with Keras' message form), `seeds` (per-replica seed generators),
`keras_internals` (the one module that touches Keras' private graph and layer attributes) and
`plotting` (Figure in, PNG out, never switching the user's matplotlib backend).
"""
