"""The op table (`registry`) and the ops built on it, grouped as TensorFlow groups them."""
