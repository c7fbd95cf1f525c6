// Headers as a name/value table, in the order they were sent, with one button copying them all.
import { CopyButton } from "./CopyButton";
import { headersAsText } from "./facts";

export function HeadersTable({ headers, caption }: { headers: string[][]; caption: string }) {
  if (headers.length === 0) return <p className="muted">No headers.</p>;
  return (
    <>
      <div className="xd-toolbar">
        <span className="muted">{headers.length === 1 ? "1 header" : `${headers.length} headers`}</span>
        <CopyButton text={() => headersAsText(headers)} label={`Copy ${caption.toLowerCase()}`}>
          Copy
        </CopyButton>
      </div>
      <table className="xd-headers">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {headers.map(([name = "", value = ""], index) => (
            <tr key={index}>
              <th scope="row">{name}</th>
              <td>{value === "" ? <span className="muted">(empty)</span> : value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** Query parameters or form fields, decoded, as the same kind of table. */
export function ParamsTable({ params, caption }: { params: [string, string][]; caption: string }) {
  return (
    <table className="xd-headers">
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Value</th>
        </tr>
      </thead>
      <tbody>
        {params.map(([name, value], index) => (
          <tr key={index}>
            <th scope="row">{name}</th>
            <td>{value === "" ? <span className="muted">(empty)</span> : value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
