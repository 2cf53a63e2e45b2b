"""The five services of the VBP execution platform and what they run on."""
