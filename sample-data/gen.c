/*
 * sample-data/gen.c: tranche-gen, a deterministic generator of realistic test inputs (Apache
 * combined access logs, an orders CSV, FASTQ reads, or a contacts CSV with quoted fields) of a
 * requested size. The same seed and size give the
 * same bytes on any machine: the only randomness is a splitmix64 stream and all arithmetic is
 * integer, so no libc PRNG, locale, float rounding or clock can leak in.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Records are built into one buffer and written once it holds FLUSH_AT bytes; the slack above it
 * must exceed the longest record, which the tables below keep well under 1 KiB. */
#define FLUSH_AT (1u << 20)
#define MAX_RECORD 4096u
#define N_CLIENTS 4096u

struct str {
    const char *s;
    size_t n;
};

/* Builds a struct str from a string literal without a strlen at run time. */
#define S(lit)                                                                                     \
    {                                                                                              \
        lit, sizeof(lit) - 1                                                                       \
    }
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- random numbers ------------------------------------------------------------------------ */

struct rng {
    uint64_t state;
};

static uint64_t
rng_next(struct rng *r)
{
    uint64_t z;

    r->state += UINT64_C(0x9e3779b97f4a7c15);
    z = r->state;
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* A value in [0, n). Multiplying the top 32 bits avoids a division per draw; the bias for the
 * small n used here is far below anything a test could notice. */
static uint32_t
rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* A value in [lo, hi]. */
static uint32_t
rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
    return lo + rng_below(r, hi - lo + 1);
}

/* Picks an index from cumulative weights (weights[i] is the running total, last = total). */
static size_t
pick_weighted(struct rng *r, const uint16_t *cumulative, size_t n)
{
    uint32_t x = rng_below(r, cumulative[n - 1]);
    size_t i = 0;

    while (cumulative[i] <= x) {
        i++;
    }
    return i;
}

/* ---- formatting into the buffer ------------------------------------------------------------ */

static char *
put(char *p, struct str s)
{
    memcpy(p, s.s, s.n);
    return p + s.n;
}

static char *
put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) {
        *p++ = tmp[--n];
    }
    return p;
}

/* Writes v as exactly `width` digits, zero-padded (v must fit). */
static char *
put_padded(char *p, uint32_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

static char *
put_hex(char *p, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";

    for (int i = digits - 1; i >= 0; i--) {
        p[i] = hex[v & 15];
        v >>= 4;
    }
    return p + digits;
}

/* ---- a wall clock that only moves forward -------------------------------------------------- */

/* Kept as calendar fields and carried by hand, so formatting never needs gmtime() (whose
 * availability and time zone handling differ between systems). */
struct clock {
    uint32_t year, month, day, hour, min, sec;
};

static uint32_t
days_in_month(uint32_t year, uint32_t month)
{
    static const uint8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return days[month - 1] + (month == 2 && leap);
}

static void
clock_tick(struct clock *c, uint32_t seconds)
{
    c->sec += seconds;
    while (c->sec >= 60) {
        c->sec -= 60;
        if (++c->min < 60) {
            continue;
        }
        c->min = 0;
        if (++c->hour < 24) {
            continue;
        }
        c->hour = 0;
        if (++c->day <= days_in_month(c->year, c->month)) {
            continue;
        }
        c->day = 1;
        if (++c->month <= 12) {
            continue;
        }
        c->month = 1;
        c->year++;
    }
}

/* The run starts at the same instant whatever the seed, so files of different seeds line up. */
static const struct clock CLOCK_START = {2026, 11, 26, 11, 9, 29};

/* Apache's %t: [26/Nov/2026:11:09:29 +0000] (28 bytes). */
static size_t
format_apache_time(char *out, const struct clock *c)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char *p = out;

    *p++ = '[';
    p = put_padded(p, c->day, 2);
    *p++ = '/';
    memcpy(p, months + 3 * (c->month - 1), 3);
    p += 3;
    *p++ = '/';
    p = put_padded(p, c->year, 4);
    *p++ = ':';
    p = put_padded(p, c->hour, 2);
    *p++ = ':';
    p = put_padded(p, c->min, 2);
    *p++ = ':';
    p = put_padded(p, c->sec, 2);
    memcpy(p, " +0000]", 7);
    p += 7;
    return (size_t)(p - out);
}

/* ISO 8601 in UTC: 2026-11-26T11:09:29Z (20 bytes). */
static size_t
format_iso_time(char *out, const struct clock *c)
{
    char *p = out;

    p = put_padded(p, c->year, 4);
    *p++ = '-';
    p = put_padded(p, c->month, 2);
    *p++ = '-';
    p = put_padded(p, c->day, 2);
    *p++ = 'T';
    p = put_padded(p, c->hour, 2);
    *p++ = ':';
    p = put_padded(p, c->min, 2);
    *p++ = ':';
    p = put_padded(p, c->sec, 2);
    *p++ = 'Z';
    return (size_t)(p - out);
}

/* ---- the access log ------------------------------------------------------------------------ */

static const struct str USER_AGENTS[] = {
    S("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36"),
    S("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/119.0.0.0 Safari/537.36"),
    S("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"),
    S("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
      "like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"),
    S("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Version/17.1 Safari/605.1.15"),
    S("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.6099.43 Mobile Safari/537.36"),
    S("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"),
    S("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.61"),
    S("Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
      "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36"),
    S("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    S("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"),
    S("curl/8.4.0"),
    S("python-requests/2.31.0"),
    S("Go-http-client/1.1"),
};
/* Cumulative weights for USER_AGENTS, per mille: browsers dominate, bots and scripts trail. */
static const uint16_t USER_AGENT_WEIGHTS[] = {
    260, 390, 460, 600, 670, 790, 820, 870, 910, 940, 960, 975, 990, 1000,
};

static const struct str USER_NAMES[] = {
    S("alice"), S("bob"),   S("carol"),  S("dave"),  S("erin"),    S("frank"),
    S("grace"), S("heidi"), S("ivan"),   S("judy"),  S("mallory"), S("oscar"),
    S("peggy"), S("trent"), S("victor"), S("wendy"),
};

/* Status codes with cumulative weights per 10000: ~4% 404, ~1% 5xx, some redirects and 304s.
 * (A successful POST becomes a 201 now and then; see access_record.) */
static const struct str STATUS_TEXT[] = {
    S("200"), S("304"), S("301"), S("302"), S("404"),
    S("403"), S("401"), S("500"), S("502"), S("503"),
};
enum { ST_200, ST_304, ST_301, ST_302, ST_404, ST_403, ST_401, ST_500, ST_502, ST_503 };
static const uint16_t STATUS_WEIGHTS[] = {
    8180, 8780, 9030, 9180, 9580, 9650, 9730, 9830, 9880, 10000,
};
static const struct str CREATED = S("201");

static const struct str SEARCH_TERMS[] = {
    S("usb-c+cable"),    S("wireless+mouse"), S("running+shoes"),
    S("coffee+grinder"), S("desk+lamp"),      S("noise+cancelling+headphones"),
    S("yoga+mat"),       S("water+bottle"),   S("mechanical+keyboard"),
    S("backpack"),       S("phone+case"),     S("air+fryer"),
};
static const struct str SORT_ORDERS[] = {
    S("relevance"), S("price_asc"), S("price_desc"), S("rating"), S("newest"),
};
static const struct str BLOG_SLUGS[] = {
    S("how-to-choose-running-shoes"), S("spring-sale-announcement"), S("our-new-warehouse"),
    S("caring-for-leather-goods"),    S("top-10-gifts-under-50"),    S("sustainable-packaging"),
};
static const struct str STATIC_ASSETS[] = {
    S("/static/css/main.3f9a1c2e.css"),
    S("/static/js/app.8b41d0f7.js"),
    S("/static/js/vendor.c27e9a13.js"),
    S("/static/fonts/inter-var.woff2"),
    S("/favicon.ico"),
};
static const struct str PLAIN_PAGES[] = {
    S("/"),      S("/index.html"), S("/cart"),       S("/login"),       S("/account/orders"),
    S("/about"), S("/contact"),    S("/robots.txt"), S("/sitemap.xml"),
};
/* What scanners and stale links ask for: most 404s point here. */
static const struct str MISSING_PATHS[] = {
    S("/wp-login.php"),
    S("/.env"),
    S("/admin/config.php"),
    S("/old-catalog/index.html"),
    S("/images/banner-2019.png"),
    S("/.git/config"),
    S("/xmlrpc.php"),
    S("/products/0"),
};
static const struct str TRACKING[] = {
    S("utm_source=newsletter&utm_medium=email&utm_campaign=winter"),
    S("utm_source=google&utm_medium=cpc"),
    S("ref=home"),
    S("ref=related"),
    S("gclid=Cj0KCQiA"),
};
static const struct str REFERERS[] = {
    S("https://www.google.com/"),   S("https://www.bing.com/"),
    S("https://duckduckgo.com/"),   S("https://t.co/x7Kq2pLm"),
    S("https://www.facebook.com/"), S("https://news.ycombinator.com/"),
};
static const struct str SITE = S("https://shop.example.com");

/* One visitor: an address, a browser and maybe a login name, fixed for the whole file so that
 * per-client questions (requests per IP, errors per agent) have non-trivial answers. */
struct client {
    char ip[16];
    uint8_t ip_len;
    uint8_t agent;
    int8_t user; /* index into USER_NAMES, or -1 for "-" */
};

struct access_gen {
    struct client clients[N_CLIENTS];
    struct clock clock;
    char stamp[32];
    size_t stamp_len;
};

/* The kinds of resource a request may name; each has its own body size range. */
enum resource { RES_PAGE, RES_PRODUCT, RES_IMAGE, RES_ASSET, RES_API, RES_SEARCH, RES_BLOG };

static void
access_init(struct access_gen *g, struct rng *r)
{
    for (size_t i = 0; i < N_CLIENTS; i++) {
        struct client *c = &g->clients[i];
        char *p = c->ip;
        /* Public-looking unicast addresses: first octet 1..223, never 10 or 127. */
        uint32_t first = rng_range(r, 1, 223);

        if (first == 10 || first == 127) {
            first++;
        }
        p = put_u64(p, first);
        for (int k = 0; k < 3; k++) {
            *p++ = '.';
            p = put_u64(p, rng_range(r, k == 2 ? 1 : 0, k == 2 ? 254 : 255));
        }
        c->ip_len = (uint8_t)(p - c->ip);
        c->agent = (uint8_t)pick_weighted(r, USER_AGENT_WEIGHTS, COUNT(USER_AGENT_WEIGHTS));
        c->user = rng_below(r, 10) == 0 ? (int8_t)rng_below(r, COUNT(USER_NAMES)) : -1;
    }
    g->clock = CLOCK_START;
    g->stamp_len = format_apache_time(g->stamp, &g->clock);
}

/* Writes the request path (with its query, if any) and returns the kind of resource. */
static enum resource
access_path(char **pp, struct rng *r, int missing)
{
    char *p = *pp;
    enum resource res;
    uint32_t roll = rng_below(r, 100);

    if (missing) {
        p = put(p, MISSING_PATHS[rng_below(r, COUNT(MISSING_PATHS))]);
        *pp = p;
        return RES_PAGE;
    }
    if (roll < 22) {
        p = put(p, (struct str)S("/products/"));
        p = put_u64(p, rng_range(r, 1000, 59999));
        if (rng_below(r, 4) == 0) {
            p = put(p, (struct str)S("/reviews?page="));
            p = put_u64(p, rng_range(r, 1, 12));
        }
        res = RES_PRODUCT;
    } else if (roll < 42) {
        p = put(p, (struct str)S("/images/products/"));
        p = put_u64(p, rng_range(r, 1000, 59999));
        p = put(p,
                rng_below(r, 2) ? (struct str)S("-800x800.jpg") : (struct str)S("-200x200.webp"));
        res = RES_IMAGE;
    } else if (roll < 57) {
        p = put(p, STATIC_ASSETS[rng_below(r, COUNT(STATIC_ASSETS))]);
        res = RES_ASSET;
    } else if (roll < 71) {
        p = put(p, (struct str)S("/api/v1/"));
        if (rng_below(r, 2)) {
            p = put(p, (struct str)S("orders/"));
            p = put_u64(p, rng_range(r, 100000, 999999));
        } else {
            p = put(p, (struct str)S("cart/items?session="));
            p = put_hex(p, rng_next(r), 16);
        }
        res = RES_API;
    } else if (roll < 81) {
        p = put(p, (struct str)S("/search?q="));
        p = put(p, SEARCH_TERMS[rng_below(r, COUNT(SEARCH_TERMS))]);
        p = put(p, (struct str)S("&page="));
        p = put_u64(p, rng_range(r, 1, 5));
        p = put(p, (struct str)S("&sort="));
        p = put(p, SORT_ORDERS[rng_below(r, COUNT(SORT_ORDERS))]);
        res = RES_SEARCH;
    } else if (roll < 86) {
        p = put(p, (struct str)S("/blog/"));
        p = put_u64(p, rng_range(r, 2021, 2026));
        *p++ = '/';
        p = put(p, BLOG_SLUGS[rng_below(r, COUNT(BLOG_SLUGS))]);
        res = RES_BLOG;
    } else if (roll < 90) {
        p = put(p, (struct str)S("/checkout?step="));
        p = put_u64(p, rng_range(r, 1, 3));
        res = RES_PAGE;
    } else {
        p = put(p, PLAIN_PAGES[rng_below(r, COUNT(PLAIN_PAGES))]);
        res = RES_PAGE;
    }
    /* Pages reached from campaigns and links carry tracking parameters. */
    if ((res == RES_PRODUCT || res == RES_PAGE || res == RES_BLOG) && rng_below(r, 4) == 0) {
        char sep = memchr(*pp, '?', (size_t)(p - *pp)) != NULL ? '&' : '?';

        *p++ = sep;
        p = put(p, TRACKING[rng_below(r, COUNT(TRACKING))]);
    }
    *pp = p;
    return res;
}

/* The response body size, or 0 for "-" (Apache's %b writes "-" when no body was sent). */
static uint32_t
access_bytes(struct rng *r, enum resource res, size_t status, int head)
{
    if (head || status == ST_304) {
        return 0;
    }
    switch (status) {
    case ST_301:
    case ST_302:
        return rng_range(r, 228, 245);
    case ST_404:
    case ST_403:
    case ST_401:
        return rng_range(r, 196, 512);
    case ST_500:
    case ST_502:
    case ST_503:
        return rng_range(r, 380, 620);
    default:
        break;
    }
    switch (res) {
    case RES_IMAGE:
        return rng_range(r, 4000, 420000);
    case RES_ASSET:
        return rng_range(r, 9000, 310000);
    case RES_API:
        return rng_range(r, 60, 4800);
    default:
        return rng_range(r, 3000, 64000);
    }
}

static char *
access_record(struct access_gen *g, struct rng *r, char *p)
{
    /* Squaring a uniform draw favours low indexes: a few clients make most of the requests. */
    uint32_t u = rng_below(r, N_CLIENTS);
    const struct client *c = &g->clients[(uint64_t)u * u / N_CLIENTS];
    size_t status = pick_weighted(r, STATUS_WEIGHTS, COUNT(STATUS_WEIGHTS));
    uint32_t method = rng_below(r, 100);
    int head = method >= 98;
    enum resource res;
    uint32_t bytes;

    /* About three requests a second, so a day of traffic is ~250k lines. */
    if (rng_below(r, 3) == 0) {
        clock_tick(&g->clock, 1);
        g->stamp_len = format_apache_time(g->stamp, &g->clock);
    }

    memcpy(p, c->ip, c->ip_len);
    p += c->ip_len;
    p = put(p, (struct str)S(" - "));
    if (c->user >= 0) {
        p = put(p, USER_NAMES[c->user]);
    } else {
        *p++ = '-';
    }
    *p++ = ' ';
    memcpy(p, g->stamp, g->stamp_len);
    p += g->stamp_len;
    p = put(p, method < 90   ? (struct str)S(" \"GET ")
               : method < 98 ? (struct str)S(" \"POST ")
                             : (struct str)S(" \"HEAD "));
    res = access_path(&p, r, status == ST_404 && rng_below(r, 2) == 0);
    p = put(p, (struct str)S(" HTTP/1.1\" "));
    p = put(p, method >= 90 && method < 98 && status == ST_200 && rng_below(r, 3) == 0
                   ? CREATED
                   : STATUS_TEXT[status]);
    *p++ = ' ';
    bytes = access_bytes(r, res, status, head);
    if (bytes == 0) {
        *p++ = '-';
    } else {
        p = put_u64(p, bytes);
    }
    p = put(p, (struct str)S(" \""));
    uint32_t ref = rng_below(r, 100);
    if (ref < 45) {
        *p++ = '-';
    } else if (ref < 80) {
        p = put(p, SITE);
        p = put(p, (struct str)S("/products/"));
        p = put_u64(p, rng_range(r, 1000, 59999));
    } else {
        p = put(p, REFERERS[rng_below(r, COUNT(REFERERS))]);
    }
    p = put(p, (struct str)S("\" \""));
    p = put(p, USER_AGENTS[c->agent]);
    *p++ = '"';
    *p++ = '\n';
    return p;
}

/* ---- the orders CSV ------------------------------------------------------------------------ */

static const struct str CSV_HEADER = S("id,timestamp,user,country,product,quantity,price,status\n");

static const struct str COUNTRIES[] = {
    S("US"), S("DE"), S("GB"), S("FR"), S("JP"), S("CA"), S("NL"), S("BR"),
    S("IN"), S("AU"), S("ES"), S("IT"), S("SE"), S("PL"), S("MX"),
};
static const uint16_t COUNTRY_WEIGHTS[] = {
    340, 450, 540, 610, 670, 730, 770, 810, 860, 900, 925, 950, 970, 985, 1000,
};

/* Product names with unit prices in cents. */
static const struct {
    struct str name;
    uint32_t cents;
} PRODUCTS[] = {
    {S("usb-c-cable-2m"), 1299},      {S("wireless-mouse"), 2499},
    {S("mechanical-keyboard"), 8999}, {S("noise-cancelling-headphones"), 19900},
    {S("running-shoes"), 11950},      {S("yoga-mat"), 3495},
    {S("steel-water-bottle"), 1999},  {S("coffee-grinder"), 5450},
    {S("desk-lamp"), 3999},           {S("laptop-backpack"), 6900},
    {S("phone-case"), 1495},          {S("air-fryer"), 9999},
    {S("hdmi-adapter"), 899},         {S("webcam-1080p"), 4999},
};

static const struct str ORDER_STATUS[] = {
    S("delivered"), S("shipped"), S("paid"), S("pending"), S("cancelled"), S("refunded"),
};
static const uint16_t ORDER_STATUS_WEIGHTS[] = {450, 650, 800, 900, 960, 1000};

struct csv_gen {
    uint64_t id;
    struct clock clock;
    char stamp[24];
    size_t stamp_len;
};

static void
csv_init(struct csv_gen *g)
{
    g->id = 0;
    g->clock = CLOCK_START;
    g->stamp_len = format_iso_time(g->stamp, &g->clock);
}

static char *
csv_record(struct csv_gen *g, struct rng *r, char *p)
{
    size_t product;
    uint32_t quantity;
    uint32_t cents;
    uint32_t tick;

    if (g->id == 0) {
        g->id = 1;
        return put(p, CSV_HEADER);
    }
    tick = rng_below(r, 4);
    if (tick != 0) {
        clock_tick(&g->clock, tick);
        g->stamp_len = format_iso_time(g->stamp, &g->clock);
    }
    product = rng_below(r, COUNT(PRODUCTS));
    /* Most orders are for one or two items; a few are bulk. */
    quantity = rng_below(r, 10) < 7 ? rng_range(r, 1, 2) : rng_range(r, 3, 12);
    cents = PRODUCTS[product].cents;
    /* An occasional discount moves the price off its list value. */
    if (rng_below(r, 8) == 0) {
        cents -= cents * rng_range(r, 5, 30) / 100;
    }

    p = put_u64(p, g->id++);
    *p++ = ',';
    memcpy(p, g->stamp, g->stamp_len);
    p += g->stamp_len;
    p = put(p, (struct str)S(",user"));
    p = put_padded(p, rng_below(r, 100000), 5);
    *p++ = ',';
    p = put(p, COUNTRIES[pick_weighted(r, COUNTRY_WEIGHTS, COUNT(COUNTRY_WEIGHTS))]);
    *p++ = ',';
    p = put(p, PRODUCTS[product].name);
    *p++ = ',';
    p = put_u64(p, quantity);
    *p++ = ',';
    p = put_u64(p, cents / 100);
    *p++ = '.';
    p = put_padded(p, cents % 100, 2);
    *p++ = ',';
    p = put(p, ORDER_STATUS[pick_weighted(r, ORDER_STATUS_WEIGHTS, COUNT(ORDER_STATUS_WEIGHTS))]);
    *p++ = '\n';
    return p;
}

/* ---- FASTQ reads --------------------------------------------------------------------------- */

/* Illumina-style reads, Phred+33. Lengths vary (full 150 and 100 base reads, and reads already
 * trimmed to anything from 20 to 250 bases), quality falls along each read, and a share of the
 * quality lines begin with '@' (quality 31) or '+' (quality 10), the bytes a naive reader takes
 * for a header or a separator. Some reads have constant quality 30, or 20 and 21 alternating, so
 * that their mean is exactly 30 or 20.5: the edges of a `min_quality` filter. */

static const struct str BARCODES[] = {
    S("ATCACG"), S("CGATGT"), S("TTAGGC"), S("TGACCA"), S("ACAGTG"), S("GCCAAT"),
};

struct fastq_gen {
    uint64_t n;
};

static uint32_t
fastq_length(struct rng *r)
{
    uint32_t roll = rng_below(r, 10);

    if (roll < 4) {
        return 150;
    }
    if (roll < 6) {
        return 100;
    }
    return rng_range(r, 20, 250);
}

/* The quality of base i of `len`: `level` at the 5' end, falling by up to 12 toward the 3' end,
 * with noise; clamped to Illumina's 2..41. */
static uint32_t
fastq_quality(struct rng *r, uint32_t level, uint32_t i, uint32_t len)
{
    int32_t q = (int32_t)level - (int32_t)(12 * i / len) + (int32_t)rng_range(r, 0, 8) - 4;

    return q < 2 ? 2 : q > 41 ? 41 : (uint32_t)q;
}

static char *
fastq_record(struct fastq_gen *g, struct rng *r, char *p)
{
    static const char bases[] = "ACGT";
    uint32_t len = fastq_length(r);
    uint32_t level = rng_range(r, 8, 40);
    uint32_t shape = rng_below(r, 20);
    char *id = p;
    size_t id_len;

    g->n++;
    p = put(p, (struct str)S("@SIM:7:FC0A1:1:"));
    p = put_u64(p, 1101 + g->n / 200);
    *p++ = ':';
    p = put_u64(p, rng_range(r, 1000, 32000));
    *p++ = ':';
    p = put_u64(p, g->n);
    id_len = (size_t)(p - id) - 1;
    p = put(p, (struct str)S(" 1:N:0:"));
    p = put(p, BARCODES[rng_below(r, COUNT(BARCODES))]);
    *p++ = '\n';
    for (uint32_t i = 0; i < len; i++) {
        *p++ = rng_below(r, 100) == 0 ? 'N' : bases[rng_below(r, 4)];
    }
    *p++ = '\n';
    *p++ = '+';
    /* Older files repeat the id on the + line. */
    if (rng_below(r, 5) == 0) {
        memcpy(p, id + 1, id_len);
        p += id_len;
    }
    *p++ = '\n';
    for (uint32_t i = 0; i < len; i++) {
        uint32_t q;

        if (shape == 0) {
            q = 30;
        } else if (shape == 1) {
            q = 20 + (i & 1);
        } else if (i == 0 && shape < 5) {
            q = shape < 3 ? 31 : 10; /* '@' or '+' */
        } else {
            q = fastq_quality(r, level, i, len);
        }
        *p++ = (char)('!' + q);
    }
    *p++ = '\n';
    return p;
}

/* ---- a contacts CSV with quoting ----------------------------------------------------------- */

/* RFC 4180 in full: names with commas ("Smith, Jane"), doubled quotes for nicknames, notes that
 * span lines, and now and then a row that ends in CRLF. Quoted only where needed, as a
 * spreadsheet writes it. */

static const struct str CONTACTS_HEADER = S("id,name,email,phone,city,notes\n");

static const struct str FIRST_NAMES[] = {
    S("Ada"),   S("Bruno"), S("Chloe"), S("Dmitri"), S("Elena"), S("Farid"),
    S("Greta"), S("Hiro"),  S("Ines"),  S("Jonas"),  S("Kemi"),  S("Luis"),
};
static const struct str LAST_NAMES[] = {
    S("Okafor"), S("Lindqvist"), S("Moreau"), S("Tanaka"), S("O'Brien"),
    S("Novak"),  S("Silva"),     S("Weber"),  S("Haddad"), S("Kowalski"),
};
static const struct str NICKNAMES[] = {S("Bo"), S("Ace"), S("Doc"), S("Sunny")};
static const struct str CITIES[] = {
    S("Lisbon"),         S("Oslo"),   S("Osaka"),         S("Lagos"),        S("Denver"),
    S("Washington, DC"), S("Zurich"), S("Paris, France"), S("Porto Alegre"), S("Leeds"),
};
static const struct str NOTES[] = {
    S("prefers email"),
    S("call after 5pm, not before"),
    S("met at the \"Data, Done Right\" meetup"),
    S("line one\nline two"),
    S("VIP\r\nrenewal due in March"),
    S("said: \"ship it\""),
    S(""),
    S("asked for the invoice, twice\nthen paid"),
};

struct contacts_gen {
    uint64_t id;
};

/* Writes s as one CSV field: quoted, with quotes doubled, when it holds a comma, a quote, CR or
 * LF; as it is otherwise. */
static char *
put_csv_field(char *p, const char *s, size_t n)
{
    if (strcspn(s, ",\"\r\n") >= n) {
        memcpy(p, s, n);
        return p + n;
    }
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') {
            *p++ = '"';
        }
        *p++ = s[i];
    }
    *p++ = '"';
    return p;
}

static char *
contacts_record(struct contacts_gen *g, struct rng *r, char *p)
{
    const struct str *first = &FIRST_NAMES[rng_below(r, COUNT(FIRST_NAMES))];
    const struct str *last = &LAST_NAMES[rng_below(r, COUNT(LAST_NAMES))];
    const struct str *note = &NOTES[rng_below(r, COUNT(NOTES))];
    uint32_t style = rng_below(r, 4);
    char name[128];
    const struct str *city = &CITIES[rng_below(r, COUNT(CITIES))];
    char *n = name;

    if (g->id == 0) {
        g->id = 1;
        return put(p, CONTACTS_HEADER);
    }
    /* "Last, First", "First Last", or with a nickname in quotes */
    if (style == 0) {
        n = put(n, *last);
        n = put(n, (struct str)S(", "));
        n = put(n, *first);
    } else {
        n = put(n, *first);
        if (style == 1) {
            n = put(n, (struct str)S(" \""));
            n = put(n, NICKNAMES[rng_below(r, COUNT(NICKNAMES))]);
            n = put(n, (struct str)S("\""));
        }
        *n++ = ' ';
        n = put(n, *last);
    }
    *n = '\0';

    p = put_u64(p, g->id++);
    *p++ = ',';
    p = put_csv_field(p, name, (size_t)(n - name));
    *p++ = ',';
    for (size_t i = 0; i < first->n; i++) {
        *p++ = (char)(first->s[i] | 0x20);
    }
    *p++ = '.';
    for (size_t i = 0; i < last->n; i++) {
        if (last->s[i] != '\'') {
            *p++ = (char)(last->s[i] | 0x20);
        }
    }
    p = put(p, (struct str)S("@example.org"));
    *p++ = ',';
    p = put(p, (struct str)S("+1-555-"));
    p = put_padded(p, rng_below(r, 10000), 4);
    *p++ = ',';
    p = put_csv_field(p, city->s, city->n);
    *p++ = ',';
    p = put_csv_field(p, note->s, note->n);
    if (rng_below(r, 12) == 0) {
        *p++ = '\r';
    }
    *p++ = '\n';
    return p;
}

/* ---- output -------------------------------------------------------------------------------- */

/* Writes all of buf, retrying short writes and EINTR. Returns 0, or -1 with errno set. */
static int
write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- command line -------------------------------------------------------------------------- */

enum kind { KIND_ACCESS, KIND_CSV, KIND_FASTQ, KIND_CONTACTS };

static void
usage(FILE *f)
{
    fputs("usage: tranche-gen --kind access|csv|fastq|contacts --size SIZE [--seed N] "
          "[--output FILE]\n"
          "\n"
          "Writes realistic records until at least SIZE bytes, ending at a record boundary.\n"
          "The output depends only on --kind, --seed and --size: the same arguments give the\n"
          "same bytes on any machine.\n"
          "\n"
          "  --kind access   Apache combined log lines (~230 bytes each)\n"
          "  --kind csv      orders CSV: id,timestamp,user,country,product,quantity,price,status\n"
          "  --kind fastq    FASTQ reads, Phred+33, 20 to 250 bases\n"
          "  --kind contacts contacts CSV with quoted fields (commas, \"\", line breaks, CRLF):\n"
          "                  id,name,email,phone,city,notes\n"
          "  --size SIZE     bytes, with an optional K, M, G or T suffix (powers of 1024;\n"
          "                  KiB/KB/MiB/... are accepted too)\n"
          "  --seed N        unsigned 64-bit seed (default 1)\n"
          "  --output FILE   write to FILE instead of standard output; a regular file is\n"
          "                  removed again if a write fails\n"
          "  --help          show this text\n",
          f);
}

/* Parses "123", "64K", "1G", "256MiB", "2 GB". Returns 0, or -1 on anything else or overflow. */
static int
parse_size(const char *text, uint64_t *out)
{
    static const char units[] = "BKMGT";
    const char *p = text;
    uint64_t v = 0;
    const char *u;
    int shift;

    if (*p < '0' || *p > '9') {
        return -1;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10) {
            return -1;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (*p == ' ') {
        p++;
    }
    if (*p == '\0') {
        *out = v;
        return 0;
    }
    u = strchr(units, *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    if (u == NULL || *u == '\0') {
        return -1;
    }
    shift = 10 * (int)(u - units);
    p++;
    if (shift > 0 && (strcmp(p, "iB") == 0 || strcmp(p, "B") == 0 || strcmp(p, "b") == 0)) {
        p += strlen(p);
    }
    if (*p != '\0' || (shift > 0 && v > (UINT64_MAX >> shift))) {
        return -1;
    }
    *out = v << shift;
    return 0;
}

static int
parse_u64(const char *text, uint64_t *out)
{
    char *end;

    if (*text < '0' || *text > '9') {
        return -1;
    }
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

/* Fills and writes buffers until `size` bytes are out. Returns 0, or -1 with errno set. */
static int
generate(int fd, enum kind kind, uint64_t seed, uint64_t size)
{
    struct rng r = {seed};
    struct access_gen *access = NULL;
    struct csv_gen csv;
    struct fastq_gen fastq = {0};
    struct contacts_gen contacts = {0};
    char *buf = malloc(FLUSH_AT + MAX_RECORD);
    uint64_t written = 0;
    char *p;
    int rc = -1;

    if (buf == NULL) {
        goto out;
    }
    if (kind == KIND_ACCESS) {
        access = malloc(sizeof(*access));
        if (access == NULL) {
            goto out;
        }
        access_init(access, &r);
    } else if (kind == KIND_CSV) {
        csv_init(&csv);
    }
    p = buf;
    while (written + (uint64_t)(p - buf) < size) {
        switch (kind) {
        case KIND_ACCESS:
            p = access_record(access, &r, p);
            break;
        case KIND_CSV:
            p = csv_record(&csv, &r, p);
            break;
        case KIND_FASTQ:
            p = fastq_record(&fastq, &r, p);
            break;
        case KIND_CONTACTS:
            p = contacts_record(&contacts, &r, p);
            break;
        }
        if ((size_t)(p - buf) >= FLUSH_AT) {
            if (write_all(fd, buf, (size_t)(p - buf)) != 0) {
                goto out;
            }
            written += (uint64_t)(p - buf);
            p = buf;
        }
    }
    if (write_all(fd, buf, (size_t)(p - buf)) != 0) {
        goto out;
    }
    rc = 0;
out:
    free(access);
    free(buf);
    return rc;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"kind", required_argument, NULL, 'k'}, {"size", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, 'S'}, {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    const char *output = NULL;
    const char *kind_text = NULL;
    const char *size_text = NULL;
    uint64_t seed = 1;
    uint64_t size;
    enum kind kind;
    int fd = STDOUT_FILENO;
    int is_regular = 0;
    struct stat st;
    int opt;

    while ((opt = getopt_long(argc, argv, "k:s:S:o:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'k':
            kind_text = optarg;
            break;
        case 's':
            size_text = optarg;
            break;
        case 'S':
            if (parse_u64(optarg, &seed) != 0) {
                fprintf(stderr, "tranche-gen: --seed: not an unsigned 64-bit integer: %s\n",
                        optarg);
                return 2;
            }
            break;
        case 'o':
            output = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tranche-gen: unexpected argument: %s\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (kind_text == NULL || size_text == NULL) {
        fprintf(stderr, "tranche-gen: --kind and --size are required\n");
        usage(stderr);
        return 2;
    }
    if (strcmp(kind_text, "access") == 0) {
        kind = KIND_ACCESS;
    } else if (strcmp(kind_text, "csv") == 0) {
        kind = KIND_CSV;
    } else if (strcmp(kind_text, "fastq") == 0) {
        kind = KIND_FASTQ;
    } else if (strcmp(kind_text, "contacts") == 0) {
        kind = KIND_CONTACTS;
    } else {
        fprintf(stderr, "tranche-gen: --kind: expected access, csv, fastq or contacts, got %s\n",
                kind_text);
        return 2;
    }
    if (parse_size(size_text, &size) != 0) {
        fprintf(stderr, "tranche-gen: --size: expected a byte count such as 64M or 1G, got %s\n",
                size_text);
        return 2;
    }

    if (output != NULL) {
        fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0) {
            fprintf(stderr, "tranche-gen: cannot create %s: %s\n", output, strerror(errno));
            return 1;
        }
        /* Only a regular file is ours to remove on failure: --output may name a device. */
        is_regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    }
    /* A half-written file would pass for a complete one of another size (and benchmarks cache
     * generated files by name), so a failed run leaves no regular file behind. */
    if (generate(fd, kind, seed, size) != 0 || (output != NULL && close(fd) != 0)) {
        int e = errno;

        fprintf(stderr, "tranche-gen: write %s: %s\n", output != NULL ? output : "standard output",
                strerror(e));
        if (is_regular) {
            unlink(output);
        }
        return 1;
    }
    return 0;
}
