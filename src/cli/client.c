#include "cli/client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#define DEFAULT_SERVER "http://127.0.0.1:8420"
#define CONFIG_MAX_BYTES 65536

/* A setting's value and where it came from, for error messages. */
typedef struct setting {
    char value[NN_CLIENT_URL_MAX];
    char source[NN_ERROR_PATH_MAX];
} setting;

static int set_from(setting *s, const char *value, const char *source, nn_error *err)
{
    if (strlen(value) >= sizeof(s->value)) {
        nn_error_set(err, source, "longer than %zu bytes", sizeof(s->value) - 1);
        return -EINVAL;
    }
    snprintf(s->value, sizeof(s->value), "%s", value);
    snprintf(s->source, sizeof(s->source), "%s", source);
    return 0;
}

static const char *config_path(char *buf, size_t len)
{
    const char *p = getenv("NANAMI_CONFIG");
    if (p && *p)
        return p;
    const char *xdg = getenv("XDG_CONFIG_HOME");
    if (xdg && *xdg && (size_t)snprintf(buf, len, "%s/nanami/config", xdg) < len)
        return buf;
    const char *home = getenv("HOME");
    if (home && *home && (size_t)snprintf(buf, len, "%s/.config/nanami/config", home) < len)
        return buf;
    return NULL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Fills server/token from the config file where they are still empty. A
 * missing file is not an error; an unreadable, malformed or too-open one
 * is. */
static int read_config(setting *server, setting *token, nn_error *err)
{
    char pathbuf[1024];
    const char *path = config_path(pathbuf, sizeof(pathbuf));
    if (!path)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        int e = errno;
        nn_error_set(err, path, "%s", strerror(e));
        return -e;
    }
    struct stat st;
    char *text = NULL;
    int r = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        nn_error_set(err, path, "not a regular file");
        r = -EINVAL;
        goto out;
    }
    if (st.st_size > CONFIG_MAX_BYTES) {
        nn_error_set(err, path, "larger than %d bytes", CONFIG_MAX_BYTES);
        r = -EINVAL;
        goto out;
    }
    text = calloc(1, (size_t)st.st_size + 1);
    ssize_t got = text ? read(fd, text, (size_t)st.st_size) : -1;
    if (got != st.st_size) {
        nn_error_set(err, path, "cannot read it");
        r = -EIO;
        goto out;
    }
    if (memchr(text, '\0', (size_t)got)) {
        nn_error_set(err, path, "contains a NUL byte");
        r = -EINVAL;
        goto out;
    }
    unsigned line = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        char where[NN_ERROR_PATH_MAX];
        snprintf(where, sizeof(where), "%.200s:%u", path, line);
        char *s = trim(l);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            nn_error_set(err, where, "expected \"key = value\"");
            r = -EINVAL;
            goto out;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        setting *slot = !strcmp(key, "server") ? server : !strcmp(key, "token") ? token : NULL;
        if (!slot) {
            nn_error_set(err, where, "unknown key \"%.64s\" (server, token)", key);
            r = -EINVAL;
            goto out;
        }
        if (slot == token && (st.st_mode & 077)) {
            nn_error_set(err, path,
                         "holds a token but is readable by others (mode %04o); chmod 600 it",
                         (unsigned)(st.st_mode & 07777));
            r = -EACCES;
            goto out;
        }
        if (!slot->value[0] && (r = set_from(slot, value, where, err)) != 0)
            goto out;
    }
out:
    if (text) {
        sodium_memzero(text, (size_t)st.st_size);
        free(text);
    }
    close(fd);
    return r;
}

int nn_client_init(nn_client *c, const char *server_flag, const char *token_flag, nn_error *err)
{
    memset(c, 0, sizeof(*c));
    setting server = {{0}, {0}}, token = {{0}, {0}};
    const char *env_url = getenv("NANAMI_URL"), *env_token = getenv("NANAMI_TOKEN");
    int r = 0;
    if (server_flag)
        r = set_from(&server, server_flag, "--server", err);
    else if (env_url && *env_url)
        r = set_from(&server, env_url, "NANAMI_URL", err);
    if (r == 0 && token_flag)
        r = set_from(&token, token_flag, "--token", err);
    else if (r == 0 && env_token && *env_token)
        r = set_from(&token, env_token, "NANAMI_TOKEN", err);
    if (r == 0)
        r = read_config(&server, &token, err);
    if (r == 0 && !server.value[0])
        r = set_from(&server, DEFAULT_SERVER, "(default)", err);
    if (r)
        goto out;

    const char *url = server.value;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        nn_error_set(err, server.source, "\"%s\" is not an http:// or https:// URL", url);
        r = -EINVAL;
        goto out;
    }
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#') {
            nn_error_set(err, server.source, "the URL may not contain spaces, '?' or '#'");
            r = -EINVAL;
            goto out;
        }
    size_t n = strlen(url);
    while (n > 8 && url[n - 1] == '/')
        n--;
    bool has_api = n >= 7 && memcmp(url + n - 7, "/api/v1", 7) == 0;
    snprintf(c->base, sizeof(c->base), "%.*s%s", (int)n, url, has_api ? "" : "/api/v1");

    if (!token.value[0]) {
        nn_error_set(err, "token",
                     "no API token: give --token, set NANAMI_TOKEN, or put \"token = ...\" in "
                     "~/.config/nanami/config (mode 0600)");
        r = -EINVAL;
        goto out;
    }
    if (strlen(token.value) >= sizeof(c->token)) {
        nn_error_set(err, token.source, "the token is too long");
        r = -EINVAL;
        goto out;
    }
    for (const char *p = token.value; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
            nn_error_set(err, token.source, "the token has a space or control character");
            r = -EINVAL;
            goto out;
        }
    memcpy(c->token, token.value, strlen(token.value) + 1);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(c->curl = curl_easy_init())) {
        nn_error_set(err, "libcurl", "initialisation failed");
        r = -ENOMEM;
    }
out:
    sodium_memzero(&token, sizeof(token));
    if (r)
        sodium_memzero(c->token, sizeof(c->token));
    return r;
}

void nn_client_free(nn_client *c)
{
    if (c->curl) {
        curl_easy_cleanup(c->curl);
        curl_global_cleanup();
    }
    sodium_memzero(c->token, sizeof(c->token));
    c->curl = NULL;
}

typedef struct sink {
    nn_buf *buf;
    bool too_big;
} sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    sink *s = user;
    size_t n = size * nmemb;
    if (s->buf->len + n > NN_CLIENT_MAX_RESPONSE) {
        s->too_big = true;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    nn_buf_append(s->buf, data, n);
    return n;
}

/* Keeps the answer's ETag header. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    nn_client *c = ud;
    size_t n = size * nmemb;
    if (n > 6 && strncasecmp(data, "ETag:", 5) == 0) {
        const char *v = data + 5;
        size_t len = n - 5;
        while (len && (*v == ' ' || *v == '\t'))
            v++, len--;
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        if (len < sizeof(c->etag)) {
            memcpy(c->etag, v, len);
            c->etag[len] = '\0';
        }
    }
    return n;
}

int nn_client_request(nn_client *c, const char *method, const char *path, const char *body,
                      size_t body_len, long *status, const char **content_type, nn_buf *resp,
                      nn_error *err)
{
    CURL *h = c->curl;
    *status = 0;
    *content_type = "";
    nn_buf_reset(resp);
    for (const char *p = path; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '#') {
            nn_error_set(err, path, "a path may not contain spaces, '#' or control characters");
            return -EINVAL;
        }
    nn_buf url = NN_BUF_INIT, auth = NN_BUF_INIT;
    nn_buf_printf(&url, "%s%s", c->base, path);
    nn_buf_printf(&auth, "Authorization: Bearer %s", c->token);
    struct curl_slist *hdrs = curl_slist_append(NULL, auth.data);
    struct curl_slist *more = hdrs ? curl_slist_append(hdrs, "Accept: application/json") : NULL;
    if (more && body)
        more = curl_slist_append(more, "Content-Type: application/json");
    nn_buf im = NN_BUF_INIT;
    if (more && c->if_match[0]) {
        nn_buf_printf(&im, "If-Match: %s", c->if_match);
        more = curl_slist_append(more, im.data);
    }
    nn_buf_free(&im);
    c->etag[0] = '\0';
    int r = 0;
    if (!more) {
        nn_error_set(err, "libcurl", "out of memory");
        r = -ENOMEM;
        goto out;
    }
    sink s = {resp, false};
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url.data);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* never carry the token elsewhere */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (!strcmp(method, "GET")) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    CURLcode cr = curl_easy_perform(h);
    if (cr != CURLE_OK) {
        if (s.too_big) {
            nn_error_set(err, c->base, "the answer is larger than %u MiB",
                         NN_CLIENT_MAX_RESPONSE >> 20);
            r = -E2BIG;
        } else {
            nn_error_set(err, c->base, "cannot reach nanamid: %s", curl_easy_strerror(cr));
            r = -EIO;
        }
        goto out;
    }
    char *ct = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    *content_type = ct ? ct : "";
out:
    curl_slist_free_all(hdrs);
    sodium_memzero(auth.data, auth.len);
    nn_buf_free(&auth);
    nn_buf_free(&url);
    return r;
}
