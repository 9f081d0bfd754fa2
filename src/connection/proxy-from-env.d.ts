// proxy-from-env 2.x ships no types. Its one function: the proxy URL for `url`, or "" for none.
declare module "proxy-from-env" {
  export function getProxyForUrl(url: string | URL): string;
}
