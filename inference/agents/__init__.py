"""The stages of the pipeline (NER, RAG, LLM) and the hybrid agent that runs them."""
