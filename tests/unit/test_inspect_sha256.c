/**
 * @file test_inspect_sha256.c
 * SHA-256 against the vectors of FIPS 180-4 / NIST, and incremental updates
 * split at every position against one-shot hashing.
 */
#include "check.h"
#include "sha256.h"

static void hex_of(const void *data, size_t len, char out[65])
{
	struct sha256 c;
	uint8_t d[32];
	sha256_init(&c);
	sha256_update(&c, data, len);
	sha256_final(&c, d);
	sha256_hex(d, out);
}

static void run_all(void)
{
	static const struct {
		const char *msg, *hex;
	} vectors[] = {
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
		{"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		 "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
		{"The quick brown fox jumps over the lazy dog",
		 "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"},
	};
	char hex[65];
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		hex_of(vectors[i].msg, strlen(vectors[i].msg), hex);
		CHECK(strcmp(hex, vectors[i].hex) == 0);
	}

	/* One million 'a', fed in pieces of 997 bytes. */
	static char a[1000000];
	memset(a, 'a', sizeof(a));
	struct sha256 c;
	uint8_t d[32];
	sha256_init(&c);
	for (size_t off = 0; off < sizeof(a); off += 997)
		sha256_update(&c, a + off, sizeof(a) - off < 997 ? sizeof(a) - off : 997);
	sha256_final(&c, d);
	sha256_hex(d, hex);
	CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);

	/* Every length around the padding boundaries, split at every position. */
	uint8_t msg[200];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	int bad = 0;
	for (size_t len = 0; len <= 130; len++) {
		char whole[65], parts[65];
		hex_of(msg, len, whole);
		for (size_t cut = 0; cut <= len; cut++) {
			sha256_init(&c);
			sha256_update(&c, msg, cut);
			sha256_update(&c, msg + cut, 0);
			sha256_update(&c, msg + cut, len - cut);
			sha256_final(&c, d);
			sha256_hex(d, parts);
			bad += strcmp(whole, parts) != 0;
		}
	}
	CHECK(bad == 0);
	/* 55, 56 and 64 bytes: one or two padding blocks (values from sha256sum). */
	memset(a, 'a', 64);
	hex_of(a, 55, hex);
	CHECK(strcmp(hex, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318") == 0);
	hex_of(a, 56, hex);
	CHECK(strcmp(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a") == 0);
	hex_of(a, 64, hex);
	CHECK(strcmp(hex, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb") == 0);
}

int main(void)
{
	sha256_hw(0); /* portable C */
	run_all();
	sha256_hw(-1); /* the SHA extensions, when the CPU has them */
	run_all();
	return check_report("test_inspect_sha256");
}
