// What the engine says about a store; a command it tells the user to run is pulled out into
// a copyable block instead of being buried in the sentence.
import { Message } from "./Badge";
import { adviceIn } from "./ca";
import { CommandBlock } from "./CopyButton";

export function StoreMessage({ text, what }: { text: string | null; what: string }) {
  if (!text) return null;
  const advice = adviceIn(text);
  if (advice === null) {
    return (
      <p className="store-note">
        <Message text={text} />
      </p>
    );
  }
  return (
    <>
      <p className="store-note">
        <Message text={advice.lead} />
      </p>
      <CommandBlock command={advice.command} label={`Copy the command for ${what}`} />
      {advice.rest !== "" && (
        <p className="store-note">
          <Message text={advice.rest} />
        </p>
      )}
    </>
  );
}
