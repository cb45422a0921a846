/* Unit tests of remote_url.c: SOURCE forms, URLs, and what servers send back. */
#include <time.h>

#include "check.h"
#include "remote.h"

static void test_sources(void)
{
	struct wfs_source s;
	struct wfs_error err = {0};
	CHECK(wfs_source_parse("https://host/path/to/model", &s, &err) == 0);
	CHECK(s.kind == WFS_SRC_HTTP && strcmp(s.base, "https://host/path/to/model/") == 0 && s.file == NULL);
	wfs_source_release(&s);
	CHECK(wfs_source_parse("http://h:8080/m/", &s, &err) == 0);
	CHECK(strcmp(s.base, "http://h:8080/m/") == 0);
	wfs_source_release(&s);
	CHECK(wfs_source_parse("http://h/m/model.safetensors", &s, &err) == 0);
	CHECK(strcmp(s.base, "http://h/m/") == 0 && strcmp(s.file, "model.safetensors") == 0);
	wfs_source_release(&s);
	CHECK(wfs_source_parse("http://h/m/x.index.json", &s, &err) == 0);
	CHECK(strcmp(s.file, "x.index.json") == 0);
	wfs_source_release(&s);
	/* Model files of every format name that file. */
	static const char *const files[] = {"pytorch_model.bin", "m.pt", "m.pth", "Q4_K_M.gguf", "model.onnx",
					    "variables.index"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char url[64];
		snprintf(url, sizeof(url), "http://h/m/%s", files[i]);
		CHECK(wfs_source_parse(url, &s, &err) == 0);
		CHECK(s.file && strcmp(s.file, files[i]) == 0 && strcmp(s.base, "http://h/m/") == 0);
		wfs_source_release(&s);
	}
	CHECK(wfs_source_parse("http://h/m/Llama-3.2-1B", &s, &err) == 0); /* a directory */
	CHECK(s.file == NULL && strcmp(s.base, "http://h/m/Llama-3.2-1B/") == 0);
	wfs_source_release(&s);
	CHECK(wfs_source_parse("hf://org/name", &s, &err) == 0);
	CHECK(s.kind == WFS_SRC_HF && strcmp(s.repo, "org/name") == 0 && strcmp(s.revision, "main") == 0);
	wfs_source_release(&s);
	CHECK(wfs_source_parse("hf://gpt2@refs/pr/1", &s, &err) == 0);
	CHECK(strcmp(s.repo, "gpt2") == 0 && strcmp(s.revision, "refs/pr/1") == 0);
	wfs_source_release(&s);
	CHECK(wfs_source_parse("s3://bucket/a/b", &s, &err) == 0);
	CHECK(s.kind == WFS_SRC_S3 && strcmp(s.bucket, "bucket") == 0 && strcmp(s.prefix, "a/b/") == 0);
	wfs_source_release(&s);
	CHECK(wfs_source_parse("s3://bucket", &s, &err) == 0);
	CHECK(strcmp(s.prefix, "") == 0);
	wfs_source_release(&s);
	CHECK(err.count == 0);

	const char *bad[] = {"hf://", "hf://a/b/c", "hf://../x", "hf://org/na me", "hf://org/name@",
			     "http:///x", "http://h/x?y=1", "http://h/a b", "s3:///x", "s3://bu$ket/x", "ftp://x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned before = err.count;
		CHECK(wfs_source_parse(bad[i], &s, &err) == -EINVAL);
		CHECK(err.count == before + 1);
	}
	CHECK_CONTAINS(err.text, "expected hf://ORG/NAME");
	wfs_error_clear(&err);
}

static void test_urls(void)
{
	char *e = wfs_url_encode("http://h/", "a b/c%d~e+f.safetensors", true);
	CHECK(strcmp(e, "http://h/a%20b/c%25d~e%2Bf.safetensors") == 0);
	free(e);
	e = wfs_url_encode("", "refs/pr/1", false);
	CHECK(strcmp(e, "refs%2Fpr%2F1") == 0);
	free(e);
	e = wfs_url_encode("", "\xc3\xa9", false);
	CHECK(strcmp(e, "%C3%A9") == 0);
	free(e);

	char o[256];
	CHECK(wfs_url_origin("https://HuggingFace.co:443/api/x", o, sizeof(o)) == 0 && strcmp(o, "https://huggingface.co") == 0);
	CHECK(wfs_url_origin("http://127.0.0.1:8080/x?y", o, sizeof(o)) == 0 && strcmp(o, "http://127.0.0.1:8080") == 0);
	CHECK(wfs_url_origin("http://user:pw@h:80", o, sizeof(o)) == 0 && strcmp(o, "http://h") == 0);
	CHECK(wfs_url_origin("https://cdn.example/x", o, sizeof(o)) == 0 && strcmp(o, "https://cdn.example") == 0);
	CHECK(wfs_url_origin("nourl", o, sizeof(o)) < 0);
	CHECK(wfs_url_origin("http:///x", o, sizeof(o)) < 0);

	wfs_url_for_log("https://cdn/x/y?X-Amz-Signature=secret", o, sizeof(o));
	CHECK(strcmp(o, "https://cdn/x/y?...") == 0);
	wfs_url_for_log("https://user:pass@h/p", o, sizeof(o));
	CHECK(strcmp(o, "https://h/p") == 0);
}

static void test_headers(void)
{
	uint64_t a, b, t;
	CHECK(wfs_parse_content_range("bytes 0-99/1000", &a, &b, &t) == 0 && a == 0 && b == 99 && t == 1000);
	CHECK(wfs_parse_content_range(" bytes 5-5/*", &a, &b, &t) == 0 && t == WFS_SIZE_UNKNOWN);
	CHECK(wfs_parse_content_range("bytes 10-5/100", &a, &b, &t) < 0);
	CHECK(wfs_parse_content_range("bytes 0-100/100", &a, &b, &t) < 0);
	CHECK(wfs_parse_content_range("bytes 0-1/2x", &a, &b, &t) < 0);
	CHECK(wfs_parse_content_range("bytes -1-2/3", &a, &b, &t) < 0);
	CHECK(wfs_parse_content_range("bytes 0-1/99999999999999999999999", &a, &b, &t) < 0);
	CHECK(wfs_parse_content_range("items 0-1/2", &a, &b, &t) < 0);
	CHECK(wfs_parse_unsatisfied_range("bytes */0", &t) == 0 && t == 0);
	CHECK(wfs_parse_unsatisfied_range("bytes */x", &t) < 0);

	CHECK(wfs_parse_retry_after("3", 0) == 3000);
	CHECK(wfs_parse_retry_after(" 0 ", 0) == 0);
	CHECK(wfs_parse_retry_after("soon", 0) == -1);
	CHECK(wfs_parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480) == 10000);
	CHECK(wfs_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490) == 0);
}

static void test_xml(void)
{
	const char *page1 =
		"<?xml version=\"1.0\"?><ListBucketResult xmlns=\"x\"><Name>b</Name><IsTruncated>true</IsTruncated>"
		"<Contents><Key>p/a&amp;b.json</Key><ETag>&quot;abc&quot;</ETag><Size>12</Size></Contents>"
		"<Contents><Key>p/&#233;&#x41;</Key><Size>0</Size></Contents>"
		"<NextContinuationToken>t/+=1</NextContinuationToken></ListBucketResult>";
	struct wfs_s3_page page = {0};
	CHECK(wfs_s3_parse_list(page1, strlen(page1), &page) == 0);
	CHECK(page.nobjects == 2 && page.truncated && strcmp(page.next_token, "t/+=1") == 0);
	CHECK(strcmp(page.objects[0].key, "p/a&b.json") == 0 && page.objects[0].size == 12);
	CHECK(strcmp(page.objects[0].etag, "\"abc\"") == 0);
	CHECK(strcmp(page.objects[1].key, "p/\xc3\xa9" "A") == 0 && page.objects[1].etag == NULL);
	const char *page2 = "<ListBucketResult><IsTruncated>false</IsTruncated>"
			    "<Contents><Key>p/c</Key><Size>7</Size></Contents></ListBucketResult>";
	CHECK(wfs_s3_parse_list(page2, strlen(page2), &page) == 0);
	CHECK(page.nobjects == 3 && !page.truncated && page.next_token == NULL);
	wfs_s3_page_release(&page);

	const char *bad[] = {
		"<Error><Code>AccessDenied</Code></Error>",
		"<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k&#0;</Key><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k&bogus;</Key><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>1</Size></ListBucketResult>",
		"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wfs_s3_page p = {0};
		CHECK(wfs_s3_parse_list(bad[i], strlen(bad[i]), &p) < 0);
		wfs_s3_page_release(&p);
	}
	const char *err = "<Error><Code>SignatureDoesNotMatch</Code><Message>a &lt;b&gt;</Message></Error>";
	char *code = wfs_xml_text(err, strlen(err), "Code"), *msg = wfs_xml_text(err, strlen(err), "Message");
	CHECK(code && strcmp(code, "SignatureDoesNotMatch") == 0);
	CHECK(msg && strcmp(msg, "a <b>") == 0);
	CHECK(wfs_xml_text(err, strlen(err), "Nope") == NULL);
	free(code);
	free(msg);
}

int main(void)
{
	test_sources();
	test_urls();
	test_headers();
	test_xml();
	return check_report("test_remote_url");
}
