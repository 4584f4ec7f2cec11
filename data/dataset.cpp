// dataset_build: spec -> tokenizer.json + shards + manifest.json (contract in dataset.h).
//
// Steps: (1) load each file source's documents (and each synthetic pool); (2) train a tokenizer on
// a byte sample taken evenly from the sources, or load the given one; (3) encode documents and
// lay out the mixture as a list of (source, document) references: fixed sources `repeat` times,
// weighted sources until their token share is filled; (4) shuffle the references, hold out the
// first val_fraction of tokens as validation; (5) write shards and the manifest; (6) write each
// source's held-out shard. Each distinct document is encoded once however often it repeats.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "data/dataset.h"
#include "data/importers.h"
#include "data/mathworld.h"
#include "data/shards.h"
#include "data/tokenizer.h"
#include "util/util.h"

namespace chamber {

static uint64_t fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

static std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)v);
  return buf;
}

static std::vector<std::string> split_text_documents(const std::string& text, const std::string& sep) {
  std::vector<std::string> docs;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t next = text.find(sep, pos);
    if (next == std::string::npos) next = text.size();
    size_t a = pos, b = next;
    while (a < b && (text[a] == '\n' || text[a] == '\r' || text[a] == ' ')) a++;
    while (b > a && (text[b - 1] == '\n' || text[b - 1] == '\r' || text[b - 1] == ' ')) b--;
    if (b > a) docs.push_back(text.substr(a, b - a));
    pos = next + sep.size();
  }
  return docs;
}

// Each source gets its own problem stream: the same seed must not make two synthetic sources
// render the very same problems.
static uint64_t source_seed(uint64_t spec_seed, const DataSource& s) { return fnv1a(s.name, spec_seed * 0x9E3779B97F4A7C15ull + 1); }

static bool unbounded(const DataSource& s) { return s.kind == "synthetic" && s.count == 0; }

static std::vector<std::string> synthetic_documents(const DataSource& s, uint64_t seed, int64_t first, int64_t n) {
  // Problems are independent, so they are drawn in parallel; an error is carried out of the
  // parallel region (throwing inside it would terminate the process).
  std::vector<std::string> docs(n);
  std::string error;
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < n; i++) {
    try {
      docs[i] = mathworld_document(mathworld_problem(s.split, first + i, seed, s.min_ops, s.max_ops), s.style);
    } catch (const Error& e) {
#pragma omp critical
      error = e.what();
    }
  }
  if (!error.empty()) fail("source '", s.name, "': ", error);
  return docs;
}

std::vector<std::string> data_source_documents(const DataSource& s, uint64_t seed, int64_t limit) {
  std::vector<std::string> docs;
  if (s.kind == "synthetic") {
    int64_t n = s.count > 0 ? s.count : (limit > 0 ? limit : 100);
    if (limit > 0) n = std::min(n, limit);
    return synthetic_documents(s, seed, 0, n);
  }
  if (s.kind == "text") {
    docs = split_text_documents(read_file(s.path), s.separator);
  } else {
    for (const auto& r : import_jsonl(s.importer, s.path, s.field)) docs.push_back(record_document(r));
  }
  if (docs.empty()) fail(s.path, ": source '", s.name, "' holds no documents");
  if (limit > 0 && (int64_t)docs.size() > limit) docs.resize(limit);
  return docs;
}

// Hash of everything the output depends on: the canonical spec, the contents of its input files
// and the math world's version.
static uint64_t spec_hash(const DataSpec& spec) {
  uint64_t h = fnv1a(data_spec_to_json(spec).dump());
  h = fnv1a(kMathWorldVersion, h);
  for (const auto& s : spec.sources)
    if (s.kind != "synthetic") h = fnv1a(read_file(s.path), h);
  if (!spec.tokenizer_path.empty()) h = fnv1a(read_file(spec.tokenizer_path), h);
  return h;
}

struct EncodedSource {
  std::vector<int> tokens;            // every distinct document, each followed by <|endoftext|>
  std::vector<int64_t> offsets;       // document d is tokens[offsets[d], offsets[d+1])
  int64_t doc_tokens(int64_t d) const { return offsets[d + 1] - offsets[d]; }
};

static void encode_append(const Tokenizer& tok, const std::vector<std::string>& docs, EncodedSource& out) {
  std::vector<std::vector<int>> ids(docs.size());
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < (int64_t)docs.size(); i++) ids[i] = tokenizer_encode(tok, docs[i]);
  if (out.offsets.empty()) out.offsets.push_back(0);
  for (auto& v : ids) {
    out.tokens.insert(out.tokens.end(), v.begin(), v.end());
    out.tokens.push_back(tok.eot_id);
    out.offsets.push_back((int64_t)out.tokens.size());
  }
}

struct DocRef {
  int32_t source;
  int64_t doc;
};

static void remove_old_shards(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    bool shard = (name.rfind("train_", 0) == 0 || name.rfind("val_", 0) == 0 || name.rfind("heldout_", 0) == 0) &&
                 name.size() > 4 &&
                 name.substr(name.size() - 4) == ".bin";
    if (shard) fs::remove(e.path(), ec);
  }
}

static std::vector<std::string> write_shards(const std::string& dir, const char* prefix, const std::vector<DocRef>& refs,
                                             const std::vector<EncodedSource>& enc, int64_t shard_tokens, int vocab) {
  std::vector<std::string> names;
  std::vector<int> buf;
  auto flush = [&] {
    char name[64];
    std::snprintf(name, sizeof name, "%s_%03d.bin", prefix, (int)names.size());
    shard_write(path_join(dir, name), buf, vocab);
    names.push_back(name);
    buf.clear();
  };
  for (const DocRef& r : refs) {
    const EncodedSource& e = enc[r.source];
    buf.insert(buf.end(), e.tokens.begin() + e.offsets[r.doc], e.tokens.begin() + e.offsets[r.doc + 1]);
    if ((int64_t)buf.size() >= shard_tokens) flush();
  }
  if (!buf.empty()) flush();
  return names;
}

// Step (6): a small held-out set per source, heldout_NNN.bin, so that a later stage (RL) can
// measure the model's fit to each source on its own. The mixed val split cannot serve: its
// documents are interleaved, and a repeated pool puts most of its val documents in the training
// split as well. A source's held-out documents are its val documents that never occur in training,
// in val order, until kHeldoutTokensPerSource; a synthetic source short of that tops up with fresh
// problems past every index it generated, which neither split holds. A file source whose every
// val document is also trained on gets no shard. Runs after the train and val shards are written,
// so they do not depend on it.
static nlohmann::json write_heldout_shards(const DataSpec& spec, const std::vector<uint64_t>& seeds, const Tokenizer& tok,
                                           const std::vector<DocRef>& train, const std::vector<DocRef>& val,
                                           std::vector<EncodedSource>& enc, const std::string& out_dir) {
  const size_t S = spec.sources.size();
  std::vector<std::vector<char>> trained(S);
  for (size_t i = 0; i < S; i++) trained[i].assign(enc[i].offsets.empty() ? 0 : enc[i].offsets.size() - 1, 0);
  for (const DocRef& r : train) trained[r.source][r.doc] = 1;
  nlohmann::json listed = nlohmann::json::array();
  for (size_t i = 0; i < S; i++) {
    const DataSource& s = spec.sources[i];
    std::vector<int> tokens;
    std::vector<char> taken(trained[i].size(), 0);
    int64_t documents = 0;
    auto add = [&](int64_t d) {
      tokens.insert(tokens.end(), enc[i].tokens.begin() + enc[i].offsets[d], enc[i].tokens.begin() + enc[i].offsets[d + 1]);
      documents++;
    };
    for (const DocRef& r : val) {
      if ((int64_t)tokens.size() >= kHeldoutTokensPerSource) break;
      if ((size_t)r.source != i || trained[i][r.doc] || taken[r.doc]) continue;
      taken[r.doc] = 1;
      add(r.doc);
    }
    if (s.kind == "synthetic") {
      // Indices below `next` are the pool (count) or every problem the mixture generated.
      int64_t next = std::max<int64_t>(s.count, enc[i].offsets.empty() ? 0 : (int64_t)enc[i].offsets.size() - 1);
      while ((int64_t)tokens.size() < kHeldoutTokensPerSource) {
        EncodedSource fresh;
        encode_append(tok, synthetic_documents(s, seeds[i], next, 16), fresh);
        next += 16;
        for (int64_t d = 0; d + 1 < (int64_t)fresh.offsets.size() && (int64_t)tokens.size() < kHeldoutTokensPerSource; d++) {
          tokens.insert(tokens.end(), fresh.tokens.begin() + fresh.offsets[d], fresh.tokens.begin() + fresh.offsets[d + 1]);
          documents++;
        }
      }
    }
    if (tokens.empty()) continue;
    char name[64];
    std::snprintf(name, sizeof name, "heldout_%03d.bin", (int)i);
    shard_write(path_join(out_dir, name), tokens, tok.vocab_size());
    listed.push_back({{"source", s.name}, {"shard", name}, {"tokens", (int64_t)tokens.size()}, {"documents", documents}});
  }
  return listed;
}

nlohmann::json dataset_build(const DataSpec& spec, const std::string& out_dir, bool verbose) {
  double t0 = now_seconds();
  std::string hash = hex64(spec_hash(spec));
  std::string manifest_path = path_join(out_dir, "manifest.json");
  if (file_exists(manifest_path)) {
    nlohmann::json old = nlohmann::json::parse(read_file(manifest_path), nullptr, false);
    // A stale or corrupt manifest just means "rebuild".
    bool complete = old.is_object() && old.contains("spec_hash") && old["spec_hash"] == hash &&
                    old.contains("train_shards") && old["train_shards"].is_array();
    if (complete) {
      for (const char* key : {"train_shards", "val_shards"})
        for (const auto& n : old.value(key, nlohmann::json::array()))
          complete &= n.is_string() && file_exists(path_join(out_dir, n.get<std::string>()));
      // Manifests written before held-out shards existed have no such key and are kept as they are
      // (RL then skips the per-source NLL); listed ones must be there.
      for (const auto& h : old.value("heldout_shards", nlohmann::json::array()))
        complete &= h.is_object() && h.contains("shard") && h["shard"].is_string() &&
                    file_exists(path_join(out_dir, h["shard"].get<std::string>()));
      complete &= file_exists(path_join(out_dir, "tokenizer.json"));
    }
    if (complete) {
      if (verbose) std::fprintf(stderr, "data: %s is up to date (spec hash %s)\n", out_dir.c_str(), hash.c_str());
      return old;
    }
  }
  make_dirs(out_dir);
  const size_t S = spec.sources.size();

  // (1) documents of bounded sources
  std::vector<std::vector<std::string>> docs(S);
  std::vector<uint64_t> seeds(S);
  for (size_t i = 0; i < S; i++) {
    seeds[i] = source_seed(spec.seed, spec.sources[i]);
    if (!unbounded(spec.sources[i])) docs[i] = data_source_documents(spec.sources[i], seeds[i]);
  }

  // (2) tokenizer
  Tokenizer tok;
  if (!spec.tokenizer_path.empty()) {
    tok = tokenizer_load(spec.tokenizer_path);
  } else {
    std::vector<std::string> sample;
    int64_t per_source = spec.tokenizer_sample_bytes / (int64_t)S;
    for (size_t i = 0; i < S; i++) {
      int64_t bytes = 0;
      if (unbounded(spec.sources[i])) {
        for (int64_t k = 0; bytes < per_source; k += 256)
          for (auto& d : synthetic_documents(spec.sources[i], seeds[i], k, 256)) bytes += d.size(), sample.push_back(std::move(d));
      } else {
        for (size_t k = 0; k < docs[i].size() && bytes < per_source; k++) bytes += docs[i][k].size(), sample.push_back(docs[i][k]);
      }
    }
    if (verbose) std::fprintf(stderr, "data: training a %d-token tokenizer on %zu documents\n", spec.vocab_size, sample.size());
    tok = tokenizer_train(sample, spec.vocab_size);
  }
  tokenizer_save(tok, path_join(out_dir, "tokenizer.json"));

  // (3) encode and lay out the mixture
  std::vector<EncodedSource> enc(S);
  std::vector<int64_t> target(S, 0);
  std::vector<DocRef> refs;
  int64_t fixed_tokens = 0;
  double weight_sum = 0;
  for (size_t i = 0; i < S; i++) {
    const DataSource& s = spec.sources[i];
    if (!docs[i].empty()) encode_append(tok, docs[i], enc[i]);
    if (s.weight > 0) { weight_sum += s.weight; continue; }
    int64_t n = (int64_t)docs[i].size();
    // Counted before the references are laid out: `repeat` multiplies a pool into memory.
    double repeated_tokens = s.repeat * (double)enc[i].tokens.size();
    if ((double)fixed_tokens + repeated_tokens > (double)kMaxDataTokens) {
      fail(spec.name_for_errors, ":", s.line, ": source '", s.name, "' repeats its ", enc[i].tokens.size(),
           " tokens ", format_number(s.repeat), " times, which takes the fixed sources past ", kMaxDataTokens,
           " tokens, the most a data spec may hold; lower its 'repeat' or 'count'");
    }
    int64_t total_docs = (int64_t)std::llround(s.repeat * (double)n);
    for (int64_t k = 0; k < total_docs; k++) {
      refs.push_back({(int32_t)i, k % n});
      fixed_tokens += enc[i].doc_tokens(k % n);
    }
  }
  if (weight_sum > 0 && fixed_tokens >= spec.tokens)
    fail(spec.name_for_errors, ": the fixed sources ('repeat'/'count') already take ", fixed_tokens,
         " tokens, more than the budget 'tokens: ", spec.tokens, "'; raise 'tokens' or lower the repeats");
  for (size_t i = 0; i < S; i++) {
    const DataSource& s = spec.sources[i];
    if (s.weight <= 0) continue;
    target[i] = (int64_t)std::llround((double)(spec.tokens - fixed_tokens) * s.weight / weight_sum);
    int64_t got = 0, k = 0;
    while (got < target[i]) {
      if (unbounded(s) && k + 1 >= (int64_t)enc[i].offsets.size())
        encode_append(tok, synthetic_documents(s, seeds[i], k, 512), enc[i]);
      int64_t d = unbounded(s) ? k : k % (int64_t)docs[i].size();
      refs.push_back({(int32_t)i, d});
      got += enc[i].doc_tokens(d);
      k++;
    }
  }

  // (4) shuffle, then hold out validation documents from the front
  Rng rng(spec.seed ^ 0x5DA7A5E7ull);
  for (int64_t k = (int64_t)refs.size() - 1; k > 0; k--) std::swap(refs[k], refs[rng.below(k + 1)]);
  int64_t total = 0;
  for (const auto& r : refs) total += enc[r.source].doc_tokens(r.doc);
  size_t n_val = 0;
  int64_t val_tokens = 0;
  while (spec.val_fraction > 0 && n_val < refs.size() && val_tokens < (int64_t)(spec.val_fraction * total))
    val_tokens += enc[refs[n_val].source].doc_tokens(refs[n_val].doc), n_val++;
  // Pretraining reads both splits; a mixture too small for either is refused here, naming the
  // spec, rather than written as shards that cannot be opened.
  if (n_val == 0 || n_val == refs.size()) {
    fail(spec.name_for_errors, ": the mixture holds ", total, " tokens in ", refs.size(), " document(s), too few ",
         "to hold out val_fraction ", format_number(spec.val_fraction), " of them for validation and train on the rest (",
         n_val == 0 ? "validation" : "training", " would get no document); raise 'tokens' or the sources' ",
         "'count'/'repeat'");
  }
  std::vector<DocRef> val(refs.begin(), refs.begin() + n_val), train(refs.begin() + n_val, refs.end());

  // (5) shards and manifest
  remove_old_shards(out_dir);
  auto train_names = write_shards(out_dir, "train", train, enc, spec.shard_tokens, tok.vocab_size());
  auto val_names = write_shards(out_dir, "val", val, enc, spec.shard_tokens, tok.vocab_size());

  std::vector<int64_t> src_train(S, 0), src_val(S, 0), src_docs(S, 0);
  for (const auto& r : train) src_train[r.source] += enc[r.source].doc_tokens(r.doc), src_docs[r.source]++;
  for (const auto& r : val) src_val[r.source] += enc[r.source].doc_tokens(r.doc), src_docs[r.source]++;
  nlohmann::json sources = nlohmann::json::array();
  for (size_t i = 0; i < S; i++) {
    const DataSource& s = spec.sources[i];
    int64_t t = src_train[i] + src_val[i];
    double requested = s.weight > 0 ? (double)target[i] / (double)spec.tokens : (double)t / (double)std::max<int64_t>(total, 1);
    sources.push_back({{"name", s.name}, {"kind", s.kind}, {"documents", src_docs[i]},
                       {"distinct_documents", (int64_t)enc[i].offsets.size() - 1}, {"tokens", t},
                       {"train_tokens", src_train[i]}, {"val_tokens", src_val[i]},
                       {"requested_share", requested}, {"share", (double)t / (double)std::max<int64_t>(total, 1)}});
  }
  nlohmann::json heldout = write_heldout_shards(spec, seeds, tok, train, val, enc, out_dir);
  nlohmann::json m;
  m["format"] = 2;   // 2: heldout_shards added (format 1 manifests have none and still load)
  m["spec_hash"] = hash;
  m["spec"] = data_spec_to_json(spec);
  m["tokenizer"] = "tokenizer.json";
  m["vocab_size"] = tok.vocab_size();
  m["tokens"] = {{"total", total}, {"train", total - val_tokens}, {"val", val_tokens}};
  m["train_shards"] = train_names;
  m["val_shards"] = val_names;
  m["sources"] = sources;
  m["heldout_shards"] = heldout;
  m["build_seconds"] = now_seconds() - t0;
  write_file_atomic(manifest_path, m.dump(2) + "\n");
  if (verbose) {
    std::fprintf(stderr, "data: %s: %lld tokens (%lld train, %lld val) in %.1fs\n", out_dir.c_str(), (long long)total,
                 (long long)(total - val_tokens), (long long)val_tokens, now_seconds() - t0);
    for (const auto& s : sources)
      std::fprintf(stderr, "data:   %-12s %10lld tokens  share %.3f (requested %.3f)\n", s["name"].get<std::string>().c_str(),
                   (long long)s["tokens"].get<int64_t>(), s["share"].get<double>(), s["requested_share"].get<double>());
  }
  return m;
}

}  // namespace chamber
