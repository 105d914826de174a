/* The route table walked row by row: every row is complete and consistent,
 * no two rows can claim one request, the most specific pattern wins, and
 * the path decoder refuses every encoding trick. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/router.h"
#include "api/target.h"

#define MAX_SEG 10

typedef struct shape {
    const char *seg[MAX_SEG];
    size_t len[MAX_SEG];
    bool param[MAX_SEG];
    size_t n;
} shape;

static void shape_of(const char *pattern, shape *s)
{
    memset(s, 0, sizeof(*s));
    for (const char *p = pattern + 1; *p && s->n < MAX_SEG;) {
        size_t len = strcspn(p, "/");
        s->param[s->n] = p[0] == '{';
        s->seg[s->n] = s->param[s->n] ? p + 1 : p;
        s->len[s->n] = s->param[s->n] ? len - 2 : len;
        s->n++;
        p += len + (p[len] == '/');
    }
}

static bool has_param(const shape *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->param[i] && s->len[i] == strlen(name) && !memcmp(s->seg[i], name, s->len[i]))
            return true;
    return false;
}

static void test_every_row_is_complete(void **state)
{
    (void)state;
    static const char *const known[] = {"ws",     "net",  "kind",   "name", "peer",
                                        "device", "user", "region", "id",   "host"};
    size_t n;
    const api_route *r = api_routes(&n);
    assert_true(n > 50);
    for (size_t i = 0; i < n; i++) {
        const api_route *rt = &r[i];
        shape s;
        shape_of(rt->pattern, &s);
        char what[160];
        snprintf(what, sizeof(what), "%s %s", rt->method, rt->pattern);
        if (!rt->handler || rt->pattern[0] != '/')
            fail_msg("%s: no handler, or a pattern not starting with /", what);
        if (strcmp(rt->method, "GET") && strcmp(rt->method, "POST") && strcmp(rt->method, "PUT") &&
            strcmp(rt->method, "DELETE"))
            fail_msg("%s: unknown method", what);
        for (size_t k = 0; k < s.n; k++) {
            bool ok = !s.param[k];
            for (size_t j = 0; !ok && j < sizeof(known) / sizeof(known[0]); j++)
                ok = s.len[k] == strlen(known[j]) && !memcmp(s.seg[k], known[j], s.len[k]);
            if (!ok || s.len[k] == 0)
                fail_msg("%s: segment %zu is an unknown parameter or empty", what, k);
        }
        bool ws = has_param(&s, "ws");
        /* Every workspace-scoped row names its permission; no other does. */
        if (ws != (rt->perm != NN_PERM_NONE))
            fail_msg("%s: a {ws} route needs a permission, and only one has one", what);
        if (rt->own != NN_PERM_NONE && (!ws || rt->own == rt->perm))
            fail_msg("%s: an owner-limited permission needs a wider one beside it", what);
        if (has_param(&s, "kind") != (rt->kinds != NULL))
            fail_msg("%s: {kind} and its value list go together", what);
        if (rt->kinds && rt->kind)
            fail_msg("%s: a literal kind beside {kind}", what);
        bool node = rt->auth == API_AUTH_NODE || rt->auth == API_AUTH_ENROLL;
        if (node && (ws || strncmp(rt->pattern, "/node/", 6) != 0))
            fail_msg("%s: node routes live under /node/ and take no workspace", what);
        if (!node && strncmp(rt->pattern, "/node/", 6) == 0)
            fail_msg("%s: /node/ routes are for nodes", what);
        if (rt->auth == API_AUTH_SELF && !has_param(&s, "user"))
            fail_msg("%s: a self route names its {user}", what);
        if (rt->auth == API_AUTH_NONE && (ws || strcmp(rt->method, "GET") != 0))
            fail_msg("%s: only public reads are unauthenticated", what);
        bool body = rt->flags & (API_BODY | API_BODY_OPTIONAL);
        if (body != (rt->body_max > 0))
            fail_msg("%s: a body flag needs a body limit, and only one has one", what);
        if (body && (!strcmp(rt->method, "GET") || !strcmp(rt->method, "DELETE")))
            fail_msg("%s: GET and DELETE take no body", what);
        if ((rt->flags & API_DRY_RUN) && !strcmp(rt->method, "GET"))
            fail_msg("%s: a read has nothing to dry-run", what);
        if (strcmp(rt->method, "GET") && rt->auth != API_AUTH_ENROLL && rt->auth != API_AUTH_NODE &&
            rt->auth != API_AUTH_SELF && strncmp(rt->pattern, "/users", 6) != 0 &&
            !(rt->flags & API_DRY_RUN))
            fail_msg("%s: every operator write takes ?dry_run", what);
        if (rt->body_max > (16u << 20))
            fail_msg("%s: a body limit over 16 MiB", what);
    }
}

/* Two rows collide when one request could match both with the same
 * precedence: same method, same segment count, literals in the same places
 * and equal. (Literals in different places are ordered by precedence.) */
static void test_no_two_rows_collide(void **state)
{
    (void)state;
    size_t n;
    const api_route *r = api_routes(&n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            if (strcmp(r[i].method, r[j].method) != 0)
                continue;
            shape a, b;
            shape_of(r[i].pattern, &a);
            shape_of(r[j].pattern, &b);
            if (a.n != b.n)
                continue;
            bool same = true;
            for (size_t k = 0; k < a.n && same; k++)
                same =
                    a.param[k] == b.param[k] &&
                    (a.param[k] || (a.len[k] == b.len[k] && !memcmp(a.seg[k], b.seg[k], a.len[k])));
            if (same)
                fail_msg("%s %s and %s %s can claim the same request", r[i].method, r[i].pattern,
                         r[j].method, r[j].pattern);
        }
}

static void test_path_decode(void **state)
{
    (void)state;
    char buf[256];
    const char *seg[12];
    size_t n;
    assert_int_equal(
        api_path_decode("/api/v1/workspaces/a%41b/networks", buf, sizeof(buf), seg, &n, 12), 0);
    assert_int_equal(n, 3);
    assert_string_equal(seg[1], "aAb");
    assert_int_equal(api_path_decode("/api/v1/me?dry_run=true", buf, sizeof(buf), seg, &n, 12), 0);
    assert_int_equal(n, 1);
    assert_string_equal(seg[0], "me");
    /* tricks: a NUL, a slash, invalid or cut-off sequences */
    static const char *const bad[] = {"/api/v1/workspaces/a%00b", "/api/v1/workspaces/a%2Fb",
                                      "/api/v1/workspaces/a%2fb", "/api/v1/workspaces/%zz",
                                      "/api/v1/workspaces/%4",    "/api/v1/workspaces/a%",
                                      "/api/v1/workspaces/%%30",  "/api/v1/%2e%2e%2Fusers"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (api_path_decode(bad[i], buf, sizeof(buf), seg, &n, 12) != -EINVAL)
            fail_msg("%s was not refused as -EINVAL", bad[i]);
    /* empty segments and foreign prefixes name nothing */
    static const char *const none[] = {"/api/v1/workspaces//a",
                                       "/api/v1/workspaces/",
                                       "/api/v1/",
                                       "/api/v2/me",
                                       "/api/v1",
                                       "api/v1/me",
                                       ""};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        if (api_path_decode(none[i], buf, sizeof(buf), seg, &n, 12) != -ENOENT)
            fail_msg("\"%s\" was not -ENOENT", none[i]);
    assert_int_equal(
        api_path_decode("/api/v1/a/b/c/d/e/f/g/h/i/j/k/l/m", buf, sizeof(buf), seg, &n, 12),
        -E2BIG);
    char longp[600] = "/api/v1/";
    memset(longp + 8, 'a', 500);
    assert_int_equal(api_path_decode(longp, buf, sizeof(buf), seg, &n, 12), -E2BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_row_is_complete),
        cmocka_unit_test(test_no_two_rows_collide),
        cmocka_unit_test(test_path_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
