"""Model backends: the Backend protocol, llama.cpp in-process, a scripted fake; the model registry."""
